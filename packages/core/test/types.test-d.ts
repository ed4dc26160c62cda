/**
 * Type tests: the public types, pinned. Checked by `pnpm typecheck` (tsc); nothing here runs.
 */
import {
  type Balancer,
  type BalancerEvents,
  type BalancerOptions,
  type BalancerStats,
  type Clock,
  createBalancer,
  type DownReason,
  type RequestTrace,
  type UpReason,
  SwitchyardError,
  type UpstreamSnapshot,
  UpstreamError,
} from '@switchyard/core'
import { activeHealthCheck, outlierDetection } from '@switchyard/health'
import { type Affinity, type Candidate, type PickContext, peakEwma, roundRobin, stickyCookie, type Strategy } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import { expectTypeOf } from 'vitest'

const lb = createBalancer({ upstreams: ['http://127.0.0.1:5000'] })
expectTypeOf(lb).toEqualTypeOf<Balancer>()
expectTypeOf(lb.dispatcher).toMatchTypeOf<Dispatcher>()
// Node's global fetch (typed by @types/node 20's undici-types) takes it as it is.
export const viaGlobalFetch = (): Promise<Response> => fetch('http://users/', { dispatcher: lb.dispatcher })
expectTypeOf(lb.upstreams).toEqualTypeOf<readonly UpstreamSnapshot[]>()
expectTypeOf<UpstreamSnapshot['state']>().toEqualTypeOf<'up' | 'down' | 'draining'>()
expectTypeOf<UpstreamSnapshot['breaker']>().toEqualTypeOf<'closed' | 'open' | 'half-open'>()
expectTypeOf(lb.stats()).toEqualTypeOf<BalancerStats>()
expectTypeOf(lb.close()).toEqualTypeOf<Promise<void>>()
expectTypeOf(lb.remove('id')).toEqualTypeOf<Promise<void>>()

// Events are typed by name.
lb.on('upstream:down', (e) => {
  expectTypeOf(e).toEqualTypeOf<{ id: string; reason: DownReason }>()
  // @ts-expect-error reasons are a closed set
  const wrong: DownReason = 'tired'
  void wrong
})
lb.on('upstream:up', (e) => {
  expectTypeOf(e.reason).toEqualTypeOf<UpReason>()
  expectTypeOf<'breaker_half_open'>().toMatchTypeOf<UpReason>()
})
lb.on('request:error', (e) => {
  expectTypeOf(e.error).toEqualTypeOf<SwitchyardError>()
  expectTypeOf(e.tried).toEqualTypeOf<string[]>()
})
expectTypeOf<keyof BalancerEvents>().toEqualTypeOf<
  'upstream:down' | 'upstream:up' | 'request:retry' | 'request:error' | 'request:end' | 'balancer:panic'
>()
lb.on('request:end', (e) => {
  expectTypeOf(e.attempts[0]!.upstream).toEqualTypeOf<string>()
  expectTypeOf(e.status).toEqualTypeOf<number>()
})
expectTypeOf(lb.trace()).toEqualTypeOf<RequestTrace[]>()
expectTypeOf(lb.report('id', 'failure')).toEqualTypeOf<void>()
// @ts-expect-error an unknown event name does not compile
lb.on('upstream:gone', () => {})

// Options: every documented shape compiles; typos do not.
const options: BalancerOptions = {
  upstreams: [
    'http://127.0.0.1:5000',
    { url: 'https://127.0.0.1:5001', weight: 2, tls: { ca: 'PEM', servername: 'api.internal' } },
    { id: 'fn', dispatcher: lb.dispatcher },
  ],
  strategy: peakEwma({ decayMs: 5_000 }),
  retry: { attempts: 2, methods: ['GET'] },
  timeouts: { connect: 1_000, headers: 2_000, body: 3_000, clientBody: 4_000, send: 5_000 },
  passive: { maxFails: 1, failTimeout: 10_000 },
  health: [activeHealthCheck({ path: '/healthz' }), outlierDetection()],
  breaker: { errorThresholdPercentage: 50, resetTimeout: 10_000 },
  underscoresInHeaders: false,
  clock: { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} },
  random: Math.random,
}
void options
// @ts-expect-error a breaker option typo does not compile
createBalancer({ upstreams: ['http://x'], breaker: { resetTimout: 1 } })
// @ts-expect-error a timeout typo does not compile
createBalancer({ upstreams: ['http://x'], timeouts: { conect: 1 } })
// @ts-expect-error a strategy must be a strategy object
createBalancer({ upstreams: ['http://x'], strategy: 'roundRobin' })
createBalancer({ upstreams: ['http://x'], strategy: roundRobin() })

// The strategy contract: the core's accept test, affinity on its own, onStart without a context.
expectTypeOf<PickContext['accept']>().toEqualTypeOf<(c: Candidate) => boolean>()
expectTypeOf<PickContext>().not.toHaveProperty('tried')
expectTypeOf(stickyCookie().affinity).toEqualTypeOf<Affinity | undefined>()
expectTypeOf<Parameters<NonNullable<Strategy['onStart']>>>().toEqualTypeOf<[picked: Candidate]>()
const orderOnly: Strategy = { name: 'in-order', pick: (list, ctx) => list.find((c) => ctx.accept(c)) }
createBalancer({ upstreams: ['http://x'], strategy: orderOnly })

// A clock is three functions.
expectTypeOf<Clock>().toEqualTypeOf<{ now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void }>()

// Errors: a status on the class, a code on the instance.
expectTypeOf(UpstreamError.statusCode).toEqualTypeOf<number>()
expectTypeOf(SwitchyardError.statusCode).toEqualTypeOf<number | undefined>()
expectTypeOf(new UpstreamError('x').code).toEqualTypeOf<string>()
expectTypeOf(new UpstreamError('x')).toMatchTypeOf<SwitchyardError>()
