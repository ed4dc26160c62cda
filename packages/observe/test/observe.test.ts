import { Writable } from 'node:stream'
import { createBalancer } from '@switchyard/core'
import { accessLog, prometheus } from '@switchyard/observe'
import { first } from '@switchyard/strategies'
import { fakeUpstream, virtualClock } from '@switchyard/testing'
import pino from 'pino'
import { register as globalRegistry, Registry } from 'prom-client'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'

async function setup() {
  const a = await fakeUpstream({ name: 'a' })
  onTestFinished(() => a.close())
  const b = await fakeUpstream({ name: 'b' })
  onTestFinished(() => b.close())
  const lb = createBalancer({
    upstreams: [
      { id: 'a', url: a.url },
      { id: 'b', url: b.url },
    ],
    strategy: first(),
    retry: false,
  })
  onTestFinished(() => lb.close())
  const call = async (path = '/') => {
    try {
      const res = await request(`http://svc${path}`, { dispatcher: lb.dispatcher })
      await res.body.dump()
      return res.statusCode
    } catch (err) {
      return (err as { code: string }).code
    }
  }
  return { a, b, lb, call }
}

/** One sample's value from the exposition text. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? ' ' : `{${labels}} `}`))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('prometheus(lb, { registry })', () => {
  it('exposes requests, errors by code, per-upstream state, responses, failures and latency, in your registry only', async () => {
    const { a, lb, call } = await setup()
    const registry = new Registry()
    const before = (await globalRegistry.getMetricsAsJSON()).length
    const metrics = prometheus(lb, { registry })
    for (let i = 0; i < 3; i++) expect(await call()).toBe(200)
    a.script('reset')
    expect(await call()).toBe('SWY_ERR_UPSTREAM')
    const text = await registry.metrics()
    expect(sample(text, 'switchyard_requests_total')).toBe(4)
    expect(sample(text, 'switchyard_errors_total', 'code="SWY_ERR_UPSTREAM"')).toBe(1)
    expect(sample(text, 'switchyard_upstream_responses_total', 'upstream="a",class="2xx"')).toBe(3)
    expect(sample(text, 'switchyard_upstream_failures_total', 'upstream="a"')).toBe(1)
    expect(sample(text, 'switchyard_upstream_state', 'upstream="a",state="down"')).toBe(1) // passive: max_fails 1
    expect(sample(text, 'switchyard_upstream_state', 'upstream="b",state="up"')).toBe(1)
    expect(sample(text, 'switchyard_upstream_down_total', 'upstream="a",reason="max_fails"')).toBe(1)
    expect(sample(text, 'switchyard_upstream_latency_seconds_count', 'upstream="a"')).toBe(4)
    expect(sample(text, 'switchyard_requests_in_flight')).toBe(0)
    expect(text).not.toMatch(/path=/) // no per-path labels
    expect((await globalRegistry.getMetricsAsJSON()).length).toBe(before) // nothing in prom-client's global registry
    // A second scrape reads the counters again rather than adding them up twice.
    expect(sample(await registry.metrics(), 'switchyard_requests_total')).toBe(4)
    metrics.close()
    expect(await registry.getMetricsAsJSON()).toEqual([])
  })

  it('exposes each upstream’s limit, and the mirror’s copies when it is on', async () => {
    const app = await fakeUpstream({ name: 'app' })
    const shadow = await fakeUpstream({ name: 'shadow' })
    const lb = createBalancer({ upstreams: [{ url: app.url, maxConnections: 7 }], mirror: { to: shadow.url } })
    onTestFinished(() => lb.close())
    const registry = new Registry()
    const metrics = prometheus(lb, { registry })
    onTestFinished(() => metrics.close())
    const res = await request('http://svc/', { dispatcher: lb.dispatcher })
    await res.body.dump()
    await expect.poll(() => lb.stats().mirror?.sent).toBe(1)
    const text = await registry.metrics()
    expect(sample(text, 'switchyard_upstream_limit', `upstream="${app.url}"`)).toBe(7)
    expect(sample(text, 'switchyard_mirror_requests_total', 'outcome="sent"')).toBe(1)
    expect(sample(text, 'switchyard_mirror_requests_total', 'outcome="skipped"')).toBe(0)
  })

  it('counts the cache’s hits and misses, and logs each request’s cache status', async () => {
    const app = await fakeUpstream({ name: 'app', handler: (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('x') })
    const lb = createBalancer({ upstreams: [app.url], cache: true })
    onTestFinished(() => lb.close())
    const registry = new Registry()
    const metrics = prometheus(lb, { registry })
    onTestFinished(() => metrics.close())
    const lines: string[] = []
    const stop = accessLog(lb, { write: (chunk: string) => lines.push(chunk) } as never, { flushMs: 0 })
    for (let i = 0; i < 3; i++) {
      const res = await request('http://svc/page', { dispatcher: lb.dispatcher })
      await res.body.dump()
    }
    stop()
    const text = await registry.metrics()
    expect(sample(text, 'switchyard_cache_requests_total', 'status="hit"')).toBe(2)
    expect(sample(text, 'switchyard_cache_requests_total', 'status="miss"')).toBe(1)
    const logged = lines.join('').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { cache?: string }).cache)
    expect(logged).toEqual(['miss', 'hit', 'hit'])
  })

  it('counts every latency, and a removed upstream\'s series go', async () => {
    const { lb, call } = await setup()
    const registry = new Registry()
    prometheus(lb, { registry })
    for (let i = 0; i < 300; i += 50) await Promise.all(Array.from({ length: 50 }, () => call()))
    const count = () => registry.metrics().then((text) => sample(text, 'switchyard_upstream_latency_seconds_count', 'upstream="a"'))
    expect(await count()).toBe(300)
    await call()
    expect(await count()).toBe(301)
    await lb.remove('a')
    expect(await count()).toBeUndefined()
    expect(sample(await registry.metrics(), 'switchyard_upstream_latency_seconds_count', 'upstream="b"')).toBeUndefined()
  })

  it('takes a prefix, and leaves the latency histogram (and its per-request cost) out when asked', async () => {
    const { lb, call } = await setup()
    const registry = new Registry()
    prometheus(lb, { registry, prefix: 'edge_', latency: false })
    await call()
    const text = await registry.metrics()
    expect(sample(text, 'edge_requests_total')).toBe(1)
    expect(text).not.toMatch(/latency/)
    expect(() => prometheus(lb, {} as never)).toThrow(TypeError)
  })
})

/** A pino logger whose lines land, parsed, in `lines`. */
function pinoLines() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return { lines, logger: pino({ base: null }, stream) }
}

describe('accessLog(lb, logger)', () => {
  it('writes one structured line per request through pino: upstream, status, attempts, durations, bytes; errors at warn', async () => {
    const { a, lb, call } = await setup()
    const { lines, logger } = pinoLines()
    const stop = accessLog(lb, logger)
    await call('/users?page=2')
    a.script('reset')
    await call('/broken')
    stop()
    await call('/not-logged')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatchObject({ level: 30, msg: 'request', method: 'GET', path: '/users?page=2', status: 200, upstream: 'a', attempts: 1 })
    expect(lines[0]!.bytes).toBe(Buffer.byteLength(JSON.stringify({ name: 'a', method: 'GET', url: '/users?page=2' })))
    expect(lines[0]!.ms).toEqual(expect.any(Number))
    expect(lines[0]!.firstByteMs).toEqual(expect.any(Number))
    expect(lines[0]!.attemptMs).toEqual([expect.any(Number)])
    expect(lines[1]).toMatchObject({ level: 40, path: '/broken', status: 502, error: 'SWY_ERR_UPSTREAM', upstream: 'a' })
    expect(() => accessLog(lb, {} as never)).toThrow(TypeError)
  })
})

describe('accessLog(lb, destination)', () => {
  /** A destination that keeps each write. */
  const recorder = () => {
    const writes: string[] = []
    return { writes, write: (chunk: string) => writes.push(chunk), lines: () => writes.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) }
  }

  it('writes the lines pino would, in batches, and what is pending on stop()', async () => {
    const { a, lb, call } = await setup()
    const { lines: viaPino, logger } = pinoLines()
    const stopPino = accessLog(lb, logger)
    const dest = recorder()
    const clock = virtualClock()
    const stop = accessLog(lb, dest, { clock })
    await call('/users?q=a\\b')
    a.script('reset')
    await call('/broken')
    expect(dest.writes).toHaveLength(0) // batched: nothing written before a flush
    stop()
    stopPino()
    expect(dest.writes).toHaveLength(1) // stop() writes both lines at once
    const lines = dest.lines()
    expect(lines).toHaveLength(2)
    // The same fields, values and order as pino's lines; only the time differs.
    const untimed = (l: Record<string, unknown>) => ({ ...l, time: 0 })
    expect(lines.map(untimed)).toEqual(viaPino.map(untimed))
    expect(lines.map((l) => Object.keys(l))).toEqual(viaPino.map((l) => Object.keys(l)))
    expect(lines[0]).toMatchObject({ level: 30, path: '/users?q=a\\b', status: 200, upstream: 'a', msg: 'request' })
    expect(lines[1]).toMatchObject({ level: 40, status: 502, error: 'SWY_ERR_UPSTREAM' })
    expect(Math.abs((lines[0]!.time as number) - Date.now())).toBeLessThan(60_000)
    await call('/after-stop')
    expect(dest.lines()).toHaveLength(2)
  })

  it('writes when bufferBytes are pending, or flushMs after the first pending line', async () => {
    const { lb, call } = await setup()
    const clock = virtualClock()
    const dest = recorder()
    const stop = accessLog(lb, dest, { clock, bufferBytes: 1_000_000, flushMs: 1_000, message: 'hit' })
    onTestFinished(stop)
    await call('/one')
    expect(dest.writes).toHaveLength(0)
    clock.advance(999)
    expect(dest.writes).toHaveLength(0)
    clock.advance(1)
    expect(dest.writes).toHaveLength(1)
    expect(clock.pending).toBe(0) // no timer while nothing is pending
    stop()
    // A line is ~170 characters: a buffer of 1.5 lines is written at every second line.
    const size = Math.floor(dest.writes[0]!.length * 1.5)
    const sized = recorder()
    const stopSized = accessLog(lb, sized, { clock, bufferBytes: size, flushMs: 1_000 })
    onTestFinished(stopSized)
    for (let i = 1; i <= 3; i++) await call(`/two-${i}`) // lines a little longer than '/one''s
    expect(sized.writes).toHaveLength(1)
    expect(sized.lines().map((l) => l.path)).toEqual(['/two-1', '/two-2'])
    clock.advance(1_000)
    expect(sized.lines().map((l) => l.path)).toEqual(['/two-1', '/two-2', '/two-3'])
    expect(dest.lines().map((l) => l.msg)).toEqual(['hit'])

    const each = recorder()
    const stopEach = accessLog(lb, each, { bufferBytes: 0, clock })
    onTestFinished(stopEach)
    await call('/now')
    expect(each.writes).toHaveLength(1) // bufferBytes 0: every line at once
  })

  it('refuses a target that is neither a logger nor a destination, and bad batch sizes', async () => {
    const { lb } = await setup()
    expect(() => accessLog(lb, {} as never)).toThrow(/info\(\) and warn\(\).*or a destination with write\(\)/)
    expect(() => accessLog(lb, null as never)).toThrow(TypeError)
    expect(() => accessLog(lb, { write() {} }, { bufferBytes: -1 })).toThrow(/bufferBytes must be a whole number/)
    expect(() => accessLog(lb, { write() {} }, { flushMs: 1.5 })).toThrow(/flushMs must be a whole number/)
    expect(lb.listenerCount('request:end')).toBe(0)
  })
})

