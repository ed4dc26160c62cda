
import { type Balancer, createBalancer } from '@switchyard/core'
import fc from 'fast-check'
import { describe, expect, it, onTestFinished } from 'vitest'
import { loadConfig, startGateway } from '../examples/gateway/src/index.js'
import { type FuzzRequest, fuzzRuns, fuzzSeed, rawRequest, sendRaw } from './helpers/fuzz.js'
import { type FakeUpstream, fakeUpstream, serveBalancer } from '@switchyard/testing'

/**
 * Issue 22: the request surface, fuzzed. Random and mutated raw requests (see helpers/fuzz.ts)
 * go, eight at a time on eight connections, to `http.createServer(lb.handler)` (with `lb.upgrade`
 * and `lb.connect` on its events) and to the gateway with every guard on. For every request: a
 * well-formed HTTP/1.1 response or a clean close, and never SWY_ERR_INTERNAL; after each batch:
 * no uncaught exception, every upstream up with no failure held against it; at the end, nothing
 * left in flight. CI runs a fixed seed and a bounded count; `FUZZ_RUNS=2000 FUZZ_SEED=n` runs more.
 */

const BATCH = 8
/** The test's own time limit grows with a longer run by hand (FUZZ_RUNS). */
const LIMIT_MS = Math.max(120_000, fuzzRuns(0) * 3_000)
/** How long a connection may stay silent before the client gives up (its own request was cut short, say). */
const WAIT_MS = 1_500

function watchUncaught(): unknown[] {
  const seen: unknown[] = []
  const listener = (err: unknown) => seen.push(err)
  process.on('uncaughtException', listener)
  process.on('unhandledRejection', listener)
  onTestFinished(() => {
    process.off('uncaughtException', listener)
    process.off('unhandledRejection', listener)
  })
  return seen
}

async function fuzz(url: string, lb: () => Balancer, upstreams: FakeUpstream[], runs: number, waitMs = WAIT_MS): Promise<Map<number | undefined, number>> {
  const uncaught = watchUncaught()
  const statuses = new Map<number | undefined, number>()
  await fc.assert(
    fc.asyncProperty(fc.array(rawRequest, { minLength: BATCH, maxLength: BATCH }), async (batch: FuzzRequest[]) => {
      const outcomes = await Promise.all(batch.map((r) => sendRaw(url, r, waitMs)))
      outcomes.forEach((o, i) => {
        statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1)
        if (o.problem !== undefined) throw new Error(`${o.problem}\nrequest: ${JSON.stringify(batch[i]!.text)}`)
      })
      expect(uncaught).toEqual([])
      for (const u of lb().upstreams) expect(u, `upstream ${u.id}`).toMatchObject({ state: 'up', failures: 0 })
      expect(upstreams.every((u) => u.isListening)).toBe(true)
    }),
    { numRuns: runs, seed: fuzzSeed(), endOnFailure: true },
  )
  // Nothing left hanging: every request the balancer took has ended.
  for (let i = 0; i < 60 && lb().stats().active !== 0; i++) await new Promise((r) => setTimeout(r, 50))
  expect(lb().stats().active).toBe(0)
  return statuses
}

describe('fuzzed raw requests (issue 22)', () => {
  it('http.createServer(lb.handler): every answer well-formed, no process error, no upstream blamed', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const lb = createBalancer({ upstreams: [a.url, b.url], timeouts: { clientBody: 300, send: 1_000 }, retry: { attempts: 2 } })
    // Node's own limits on a slow head, short, so a cut-short request ends within the wait.
    const { url } = await serveBalancer(lb, { headersTimeout: 500, requestTimeout: 3_000, connectionsCheckingInterval: 100 })
    const statuses = await fuzz(url, () => lb, [a, b], fuzzRuns(30))
    // The generator reaches both sides: requests proxied, and requests refused by Node or the balancer.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0)
    expect([...statuses.keys()].some((s) => s !== undefined && s >= 400 && s < 500)).toBe(true)
  }, LIMIT_MS)

  it('the gateway with every guard on: the same', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const gw = await startGateway({
      ...loadConfig([], { ACCESS_LOG: 'off' }),
      port: 0,
      host: '127.0.0.1',
      upstreams: [a.url, b.url],
      // This stop's response paths too: compression, the cache, buffering; and the admin API's door.
      balancer: { timeouts: { clientBody: 300, send: 1_000 }, retry: { attempts: 2 }, compress: true, cache: true, buffering: true },
      admin: { token: 'fuzz-admin-token-0123456789' },
      guards: {
        ipFilter: { deny: ['203.0.113.0/24'] },
        requestFilter: { starter: true, rules: [{ name: 'no-admin', denyPath: '^/admin' }] },
        bodyLimit: { max: 1_000 },
        connectionLimit: { max: 1_000 },
        rateLimit: { rate: 100_000, burst: 100_000 },
        // The OWASP CRS too (issue 25): every request's bytes through its parsers and rules.
        waf: { crs: '/usr/share/modsecurity-crs', bodyLimit: 4_096, bodyTimeout: 300 },
      },
      statsPath: '/__stats',
    })
    onTestFinished(() => gw.close())
    if ('headersTimeout' in gw.server) gw.server.headersTimeout = 500 // checked each second (the gateway's interval)
    const statuses = await fuzz(`http://127.0.0.1:${gw.port}`, () => gw.lb, [a, b], fuzzRuns(20), 2_500)
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0)
    expect([...statuses.keys()].some((s) => s !== undefined && s >= 400 && s < 500)).toBe(true)
  }, LIMIT_MS)
})
