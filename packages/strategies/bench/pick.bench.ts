import { type Candidate, maglev, type PickContext } from '@switchyard/strategies'
import { bench, describe } from 'vitest'
import { STRATEGIES } from '../test/fixtures/factories.js'

// `pick` of every strategy at 2, 16, 256 and 4 096 upstreams (from a pair to a large fleet). Weights 1..3, some
// requests in flight, a key per pick for the hash strategies. Run: pnpm bench:strategies
const SIZES = [2, 16, 256, 4_096]

function list(n: number): Candidate[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `http://10.0.${i >> 8}.${i & 255}:8080`,
    url: `http://10.0.${i >> 8}.${i & 255}:8080`,
    index: i,
    weight: 1 + (i % 3),
    backup: false,
    state: 'up' as const,
    inFlight: i % 5,
    maxConnections: Number.POSITIVE_INFINITY,
    ewmaMs: 1 + (i % 7),
  }))
}

const KEYS = Array.from({ length: 1_024 }, (_, i) => `203.0.113.${i % 256}:${i}`)

for (const n of SIZES) {
  describe(`pick at ${n} upstreams`, () => {
    const candidates = list(n)
    for (const [name, make] of STRATEGIES) {
      // The tests give maglev a small table to stay fast; the bench measures the default 65 537.
      const s = name === 'maglev' ? maglev() : make(Math.random, () => performance.now())
      s.rebuild?.(candidates)
      const ctx: PickContext = { attempt: 1, tried: new Set(), key: undefined }
      let i = 0
      bench(name, () => {
        ctx.key = KEYS[i++ & 1_023]
        s.pick(candidates, ctx)
      })
    }
  })
}
