import { roundRobin, type Strategy } from '@switchyard/strategies'

/**
 * Round robin from the first upstream, in the order given: a test that asserts which upstream
 * each request reaches gets the same sequence every run. (The balancer's default round robin
 * starts at a random point, as Envoy's does, so a fleet of processes does not move in lock step.)
 * Weights are honoured as nginx's smooth weighted round robin does.
 *
 * @example
 * createBalancer({ upstreams: [a.url, b.url], strategy: inOrder() }) // a, b, a, b, …
 */
export function inOrder(): Strategy {
  return roundRobin({ random: () => 0 })
}
