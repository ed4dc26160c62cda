import { checkFunction, checkNumber, checkObject, rejectUnknownKeys } from './options-check.js'
import { drawAccepted, WeightedSampler } from './internal/weighted.js'
import type { Candidate, Outcome, PickContext, Strategy, StrategyDeps } from './strategy.js'

/**
 * The automatic decay: the time of `DECAY_LATENCIES` typical answers, between the bounds. 250 from
 * `pnpm sim` (packages/sim/RESULTS.md): it keeps every p99 win of Finagle's fixed 10 s and brings a
 * recovered upstream back in 2.8 s instead of 63 s; 100 recovered faster and lost some p99.9, 500
 * took 5 s. The cap is Finagle's and Linkerd's 10 s (a service answering in 40 ms or more decays
 * as theirs do); the floor keeps a sub-millisecond service from forgetting a peak at once.
 */
const DECAY_LATENCIES = 250
const MAX_DECAY_MS = 10_000
const MIN_DECAY_MS = 100
/** The typical latency is an average over about this many answers, of every upstream. */
const TYPICAL_SAMPLES = 32

/** Options of {@link peakEwma}. */
export interface PeakEwmaOptions extends StrategyDeps {
  /**
   * Time constant of the latency average, ms: an observation `dt` ms after the last one weighs
   * `1 - exp(-dt / decayMs)`. Without it, the decay follows the service: 250 × the typical latency
   * of the answers seen (all upstreams), from 100 ms to 10 s (Finagle's and Linkerd's fixed
   * default), so a 2 ms service forgets a peak in about half a second and a 40 ms one in 10 s.
   * @default automatic: 250 × the typical latency, 100 ms to 10 s
   */
  decayMs?: number
  /**
   * Latency assumed for an upstream never measured (new, or after the upstream set changed) while
   * its first requests are in flight, ms; idle, such an upstream costs 0 and is tried at once
   * (Finagle). Linkerd's default RTT estimate is 30 ms. A measured upstream that gets no traffic
   * is not reset to it: its estimate decays toward zero (see {@link peakEwma}).
   * @default 30
   */
  defaultRttMs?: number
}

/**
 * Peak EWMA, as Finagle and Linkerd: each upstream's cost is its latency average times
 * (in-flight + 1), divided by its weight; two upstreams are drawn at random (weighted) and the
 * cheaper one wins. The average jumps to a new peak at once and decays with time constant
 * `decayMs`, so a slowing upstream loses traffic fast and wins it back as the peak decays. Their
 * fixed 10 s is long for a fast service (a 2 ms upstream that recovered took a minute to get its
 * share back); by default the decay is the time of 250 typical answers instead (see `decayMs`).
 *
 * Time without observations counts as observations of zero (Finagle's `PeakEwma` observes 0 on
 * read; tower's decays its estimate on read): an upstream that lost all its traffic to a peak sees
 * its estimate fall by `exp(-dt / decayMs)` until it wins a draw again, is measured, and is
 * penalised again only if it is still slow. Without this, a recovered upstream whose stale peak
 * outweighs the fast ones' costs is never drawn, so never measured, so never recovers.
 *
 * Cost: pick O(log n) (two `Math.exp`), `onEnd` O(1) (one `Math.exp`); rebuild O(n). No allocation per pick.
 *
 * @example
 * createBalancer({ upstreams, strategy: peakEwma({ decayMs: 5_000 }) })
 */
export function peakEwma(options: PeakEwmaOptions = {}): Strategy {
  const o = checkObject(options, 'peakEwma()')
  rejectUnknownKeys(o, ['decayMs', 'defaultRttMs', 'random', 'now'], 'peakEwma()')
  const rng = checkFunction<() => number>(o.random, 'peakEwma().random', Math.random)
  const now = checkFunction<() => number>(o.now, 'peakEwma().now', () => performance.now())
  const fixedDecay = o.decayMs === undefined ? undefined : checkNumber(o.decayMs, 'peakEwma().decayMs', 0, { exclusiveMin: true })
  let decayMs = fixedDecay ?? MAX_DECAY_MS
  /** The typical latency of every answer seen (an average over the last ~32), for the automatic decay. */
  let typical = 0
  const defaultRtt = checkNumber(o.defaultRttMs, 'peakEwma().defaultRttMs', 30, { exclusiveMin: true })
  const sampler = new WeightedSampler()
  let ewma = new Float64Array(8)
  let stamp = new Float64Array(8)

  const grow = (index: number) => {
    const size = Math.max(index + 1, ewma.length * 2)
    const e = new Float64Array(size)
    const s = new Float64Array(size)
    e.set(ewma)
    s.set(stamp)
    ewma = e
    stamp = s
  }

  /**
   * Latency estimate of a slot at `t`, decayed since its last observation. Never measured (new,
   * or after the set changed): 0 while it has nothing in flight, so it is tried at once, as
   * Finagle does; `defaultRttMs` while its first requests are out, so the herd does not pile onto
   * an upstream nobody has measured. (Costing an idle unmeasured upstream at `defaultRttMs` left
   * it untried for good next to faster ones: it was never measured.)
   */
  const latency = (c: Candidate, t: number) => {
    const e = c.index < ewma.length ? ewma[c.index]! : 0
    if (e === 0) return c.inFlight === 0 ? 0 : defaultRtt
    return e * Math.exp(-(t - stamp[c.index]!) / decayMs)
  }

  const cost = (c: Candidate, t: number) => (latency(c, t) * ((c.load ?? c.inFlight) + 1)) / c.weight

  return {
    name: 'peak-ewma',
    rebuild(all: readonly Candidate[]) {
      sampler.clear()
      let max = 0
      for (const c of all) if (c.index > max) max = c.index
      ewma = new Float64Array(Math.max(8, max + 1))
      stamp = new Float64Array(ewma.length)
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      const a = drawAccepted(sampler, eligible, ctx, rng)
      if (a === undefined || eligible.length === 1) return a
      const b = drawAccepted(sampler, eligible, ctx, rng, a)
      if (b === undefined) return a
      const t = now()
      return cost(b, t) < cost(a, t) ? b : a
    },
    onEnd(picked: Candidate, outcome: Outcome) {
      if (outcome.judged === false) return // the client's or the balancer's doing: no latency to learn
      if (picked.index >= ewma.length) grow(picked.index)
      const t = now()
      const i = picked.index
      const rtt = outcome.latencyMs
      if (fixedDecay === undefined) {
        typical = typical === 0 ? rtt : typical + (rtt - typical) / TYPICAL_SAMPLES
        decayMs = Math.min(MAX_DECAY_MS, Math.max(MIN_DECAY_MS, DECAY_LATENCIES * typical))
      }
      const prev = ewma[i]!
      const w = Math.exp(-(t - stamp[i]!) / decayMs)
      const decayed = prev * w // the quiet time since the last observation, as observations of 0
      // A new peak (or a first measure) is taken at once; otherwise the average moves toward rtt.
      ewma[i] = prev === 0 || rtt > decayed ? rtt : decayed + rtt * (1 - w)
      stamp[i] = t
    },
  }
}
