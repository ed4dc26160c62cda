import { type BalancerOptions, createBalancer } from '@switchyard/core'
import type { Candidate, PickContext, Strategy } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import { SimClock } from './clock.js'
import { exponential, seededRandom } from './random.js'
import { SimUpstream, type UpstreamModel } from './sim-upstream.js'

/** A change during a run: from `at` ms on, upstream `upstream` (an index) is so. */
export interface SimEvent {
  at: number
  upstream: number
  /** Latency multiplier (1: normal). */
  slowFactor?: number
  /** Connections refused. */
  crashed?: boolean
  errorRate?: number
  /** Requests served at once from then on (a capacity change). */
  concurrency?: number
}

/** A scenario: a fleet, a load, and what happens. */
export interface Scenario {
  name: string
  /** The upstreams, one model each. */
  upstreams: readonly UpstreamModel[]
  /** Open-loop arrivals (Poisson), requests per second, over all balancer instances. */
  rate: number
  /** Simulated time, ms. */
  durationMs: number
  /** Time before latencies are recorded, ms. @default 10% of durationMs */
  warmupMs?: number
  /** Balancer instances, each with its own view (its own strategy state and health); arrivals spread evenly. @default 1 */
  instances?: number
  /** @default 1 */
  seed?: number
  events?: readonly SimEvent[]
  /** More balancer options (passive, health, retry, slowStart…); the clock and upstreams are the simulator's. */
  balancer?: Omit<BalancerOptions, 'upstreams' | 'strategy' | 'clock' | 'random'>
  /** Measure how long upstream `upstream` takes to get back 80% of its fair share after `at`. */
  recovery?: { upstream: number; at: number }
  /** Each request's affinity key, sent as the `x-key` header (for the hash strategies); none when absent. */
  keys?: (random: () => number) => string
  /** The strategies this scenario compares. @default the standard ones */
  strategies?: () => StrategySpec[]
}

/** A strategy to run: a name and a factory given the run's seeded randomness and clock. */
export interface StrategySpec {
  name: string
  make(deps: { random: () => number; now: () => number; upstreams: readonly SimUpstream[] }): Strategy
}

/** What one run measured. */
export interface SimReport {
  scenario: string
  strategy: string
  requests: number
  errors: number
  meanMs: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  /** Mean over samples of max / mean requests at an upstream (1 is perfectly even). */
  imbalance: number
  /** `upstream:down` events over all instances. */
  ejections: number
  /** ms from `recovery.at` until the upstream served 80% of its fair share in a 1 s window; undefined if never. */
  recoveryMs: number | undefined
  /**
   * With keys: the share of keyed requests served by the upstream that served their key most
   * (1: every key always on one upstream, as plain hashing; about 1/n for no affinity at all).
   */
  affinity: number | undefined
  /** Real time the run took, ms. */
  wallMs: number
}

/** How often the load spread is sampled, ms of simulated time. */
const SAMPLE_MS = 50
/**
 * Virtual time between turns of the real event loop, ms: promise continuations (active probes'
 * verdicts) run at most this late. 5 ms is under every probe interval and latency modelled.
 */
const STEP_MS = 5
/** Buckets of served counts for the recovery measure, ms. */
const BUCKET_MS = 100

/**
 * Runs the real balancer (strategies, retries, passive health, outlier detection, breakers are
 * not simulated: they are the real code) against modelled upstreams on a virtual clock.
 * Deterministic for a seed.
 */
export async function simulate(scenario: Scenario, spec: StrategySpec): Promise<SimReport> {
  const wall = performance.now()
  const seed = scenario.seed ?? 1
  const clock = new SimClock()
  const durationMs = scenario.durationMs
  const warmupMs = scenario.warmupMs ?? durationMs / 10
  const buckets = new Map<SimUpstream, Uint32Array>()
  const bucketCount = Math.ceil(durationMs / BUCKET_MS) + 1
  const byKey = new Map<string, Map<SimUpstream, number>>()
  const onServed = (u: SimUpstream, options: Dispatcher.DispatchOptions) => {
    if (scenario.keys !== undefined && clock.now() >= warmupMs) {
      const key = headerOf(options.headers, 'x-key')
      if (key !== undefined) {
        let m = byKey.get(key)
        if (m === undefined) byKey.set(key, (m = new Map()))
        m.set(u, (m.get(u) ?? 0) + 1)
      }
    }
    let b = buckets.get(u)
    if (b === undefined) buckets.set(u, (b = new Uint32Array(bucketCount)))
    const i = Math.floor(clock.now() / BUCKET_MS)
    if (i < bucketCount) b[i]!++
  }
  const upstreams = scenario.upstreams.map((model, i) => new SimUpstream(`u${i}`, model, clock, seededRandom(seed * 7919 + i), onServed))
  let ejections = 0
  const instances = Array.from({ length: scenario.instances ?? 1 }, (_, k) => {
    const lb = createBalancer({
      ...scenario.balancer,
      upstreams: upstreams.map((u, i) => ({ id: u.id, dispatcher: u, weight: u.weight, priority: scenario.upstreams[i]!.priority ?? 0, backup: scenario.upstreams[i]!.backup ?? false })),
      strategy: spec.make({ random: seededRandom(seed * 31 + k), now: () => clock.now(), upstreams }),
      clock,
      random: seededRandom(seed * 17 + k),
    })
    lb.on('upstream:down', () => ejections++)
    return lb
  })

  for (const e of scenario.events ?? []) {
    clock.setTimeout(() => {
      const u = upstreams[e.upstream]!
      if (e.slowFactor !== undefined) u.slowFactor = e.slowFactor
      if (e.crashed !== undefined) u.crashed = e.crashed
      if (e.errorRate !== undefined) u.errorRate = e.errorRate
      if (e.concurrency !== undefined) u.concurrency = e.concurrency
    }, e.at)
  }

  let latencies = new Float64Array(Math.ceil((scenario.rate * durationMs) / 1000) + 16)
  let recorded = 0
  let requests = 0
  let errors = 0
  const record = (start: number, failed: boolean) => {
    if (start < warmupMs) return
    requests++
    if (failed) errors++
    if (recorded === latencies.length) {
      const grown = new Float64Array(latencies.length * 2)
      grown.set(latencies)
      latencies = grown
    }
    latencies[recorded++] = clock.now() - start
  }
  const arrivalRandom = seededRandom(seed * 104_729)
  const keyRandom = seededRandom(seed * 15_485_863)
  const meanGap = 1000 / scenario.rate
  let next = 0
  const arrive = () => {
    const lb = instances[next++ % instances.length]!
    const start = clock.now()
    let status = 0
    const handler = {
      onConnect() {},
      onHeaders(s: number) {
        status = s
        return true
      },
      onData: () => true,
      onComplete: () => record(start, status >= 500),
      onError: () => record(start, true),
    }
    const headers = scenario.keys === undefined ? undefined : { 'x-key': scenario.keys(keyRandom) }
    lb.dispatcher.dispatch({ origin: 'http://sim', method: 'GET', path: '/', headers }, handler as unknown as Dispatcher.DispatchHandler)
    const gap = exponential(arrivalRandom, meanGap)
    if (clock.now() + gap < durationMs) clock.setTimeout(arrive, gap)
  }
  clock.setTimeout(arrive, exponential(arrivalRandom, meanGap))

  let spread = 0
  let samples = 0
  const sampleLoad = () => {
    if (clock.now() >= warmupMs) {
      let max = 0
      let sum = 0
      for (const u of upstreams) {
        const load = u.load / u.weight
        sum += load
        if (load > max) max = load
      }
      if (sum > 0) {
        spread += max / (sum / upstreams.length)
        samples++
      }
    }
    if (clock.now() + SAMPLE_MS < durationMs) clock.setTimeout(sampleLoad, SAMPLE_MS)
  }
  clock.setTimeout(sampleLoad, SAMPLE_MS)

  await clock.runUntilAsync(durationMs, STEP_MS)
  await clock.runUntilAsync(durationMs + 60_000, 1_000) // then let the requests in flight finish

  const sorted = latencies.subarray(0, recorded).sort()
  const at = (q: number) => (recorded === 0 ? 0 : sorted[Math.min(recorded - 1, Math.floor(q * recorded))]!)
  let sum = 0
  for (let i = 0; i < recorded; i++) sum += sorted[i]!
  return {
    scenario: scenario.name,
    strategy: spec.name,
    requests,
    errors,
    meanMs: recorded === 0 ? 0 : sum / recorded,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    p999Ms: at(0.999),
    imbalance: samples === 0 ? 1 : spread / samples,
    ejections,
    recoveryMs: scenario.recovery === undefined ? undefined : recoveryTime(scenario.recovery, upstreams, buckets),
    affinity: scenario.keys === undefined ? undefined : affinityOf(byKey),
    wallMs: performance.now() - wall,
  }
}

/** Share of keyed requests served by their key's most frequent upstream. */
function affinityOf(byKey: Map<string, Map<SimUpstream, number>>): number {
  let top = 0
  let all = 0
  for (const m of byKey.values()) {
    let max = 0
    for (const n of m.values()) {
      all += n
      if (n > max) max = n
    }
    top += max
  }
  return all === 0 ? 1 : top / all
}

/** A request header's value, from the flat array or the object undici's dispatch options carry. */
function headerOf(headers: Dispatcher.DispatchOptions['headers'], name: string): string | undefined {
  if (headers === null || headers === undefined) return undefined
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1])
    return undefined
  }
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) if (k.toLowerCase() === name) return String(v)
  return undefined
}

/** ms from `at` to the end of the first 1 s window in which `upstream` served ≥ 80% of its weight's fair share. */
function recoveryTime(
  recovery: { upstream: number; at: number },
  upstreams: readonly SimUpstream[],
  buckets: Map<SimUpstream, Uint32Array>,
): number | undefined {
  const target = upstreams[recovery.upstream]!
  const totalWeight = upstreams.reduce((w, u) => w + u.weight, 0)
  const fair = target.weight / totalWeight
  const window = 1000 / BUCKET_MS
  const first = Math.floor(recovery.at / BUCKET_MS)
  const length = buckets.values().next().value?.length ?? 0
  for (let end = first + window; end <= length; end++) {
    let mine = 0
    let all = 0
    for (const [u, b] of buckets) {
      let n = 0
      for (let i = end - window; i < end; i++) n += b[i]!
      all += n
      if (u === target) mine += n
    }
    if (all > 0 && mine / all >= 0.8 * fair) return end * BUCKET_MS - recovery.at // the end of that window
  }
  return undefined
}

/**
 * The reference no balancer can match: join the shortest queue, seeing every upstream's true
 * load (its requests in service and waiting), across all instances. Ties go to chance. O(n) a pick.
 */
export function oracleJsq(): StrategySpec {
  return {
    name: 'oracle-jsq',
    make({ random, upstreams }) {
      const byId = new Map(upstreams.map((u) => [u.id, u]))
      return {
        name: 'oracle-jsq',
        pick(eligible: readonly Candidate[], ctx: PickContext) {
          let best: Candidate | undefined
          let bestLoad = Number.POSITIVE_INFINITY
          let ties = 0
          for (const c of eligible) {
            if (!ctx.accept(c)) continue
            const load = byId.get(c.id)!.load / c.weight
            if (load < bestLoad) {
              best = c
              bestLoad = load
              ties = 1
            } else if (load === bestLoad && random() * ++ties < 1) best = c
          }
          return best
        },
      }
    },
  }
}
