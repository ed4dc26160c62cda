import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeUpstream, fakeUpstream } from '@switchyard/testing'

/**
 * The gateway as operators run it with `WORKERS=2`: a real cluster primary and two worker
 * processes on one port, in front of real loopback backends. Worker processes need JavaScript,
 * and the suite runs from the TypeScript sources without a build, so the gateway's `main.ts` is
 * bundled (esbuild, the sources of every package included) into a temporary directory first.
 */
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'switchyard-cluster-'))
const bundle = join(dir, 'main.cjs')
const TOKEN = 'cluster-test-token-0123456789'

let gateway: ChildProcess
let url = ''
let flaky: FakeUpstream // resets every request: a passive failure
let steady: FakeUpstream
let spare: FakeUpstream
const output: string[] = []

const probes = (up: FakeUpstream) => up.requests.filter((r) => r.url === '/healthz').length
const traffic = (up: FakeUpstream) => up.requests.filter((r) => r.url !== '/healthz').length
/** A request on a connection of its own, so the cluster hands each to the next worker (round robin). */
const fresh = async (path: string, init: Parameters<typeof request>[1] = {}) => {
  // A connection the cluster handed to a worker as it was killed is lost (Node's cluster): fail
  // such a request in 5 s rather than undici's 5 minutes (see surviving() for the test after a kill).
  const res = await request(`${url}${path}`, { ...init, reset: true, headersTimeout: 5_000, bodyTimeout: 5_000 })
  return { status: res.statusCode, text: await res.body.text() }
}
/** `read`, tried again (up to 3 times) when its connection was lost to a worker that died. */
const surviving = async <T>(read: () => Promise<T>): Promise<T> => {
  for (let i = 0; ; i++) {
    try {
      return await read()
    } catch (err) {
      if (i === 2) throw err
    }
  }
}
const metric = async (name: string): Promise<number> => {
  const { text } = await fresh('/metrics')
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`) && l.slice(0, l.lastIndexOf(' ')) === name)
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1))
}
const fleet = async () => {
  const { text } = await fresh('/__switchyard/data')
  const history = (JSON.parse(text) as { history: { requests: number; workers?: { pid: number; requests: number }[] }[] }).history
  return history.at(-1) // undefined until the worker has had a fleet sample
}

/** Polls `read` until it gives a value (expect.poll is for tests, and this is the suite's setup). */
async function until<T>(read: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = await read()
    if (value !== undefined) return value
    if (Date.now() > end) throw new Error(`the gateway did not start within ${ms} ms:\n${output.join('')}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

beforeAll(async () => {
  const src = (p: string) => here(`../../../packages/${p}/src/index.ts`)
  await build({
    entryPoints: [here('../src/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: bundle,
    logLevel: 'error',
    alias: {
      '@switchyard/health/internal': here('../../../packages/health/src/internal.ts'),
      ...Object.fromEntries(['strategies', 'health', 'core', 'guard', 'waf', 'observe'].map((p) => [`@switchyard/${p}`, src(p)])),
    },
  })
  flaky = await fakeUpstream({ name: 'flaky', answer: (r) => (r.url === '/healthz' ? {} : 'reset') })
  steady = await fakeUpstream({ name: 'steady' })
  spare = await fakeUpstream({ name: 'spare' })
  const config = join(dir, 'gateway.json')
  writeFileSync(
    config,
    JSON.stringify({
      host: '127.0.0.1',
      port: 0,
      workers: 2,
      accessLog: false,
      upstreams: [flaky.url, steady.url, spare.url],
      strategy: 'first',
      admin: { token: TOKEN },
      status: { intervalMs: 100 },
      // No panic mode (two of three upstreams go down here). A probe every minute: in the test's few seconds each upstream sees the first probe only,
      // once from the primary; per-worker probing would make it two.
      balancer: { panicThreshold: 0, retry: { attempts: 3 }, passive: { maxFails: 1, failTimeout: 60_000 }, health: { active: { path: '/healthz', interval: 60_000 } } },
    }),
  )
  gateway = spawn(process.execPath, [bundle, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  gateway.stdout!.on('data', (d: Buffer) => output.push(d.toString()))
  gateway.stderr!.on('data', (d: Buffer) => output.push(d.toString()))
  const port = await until(() => /workers on http:\/\/localhost:(\d+)/.exec(output.join(''))?.[1], 15_000)
  url = `http://127.0.0.1:${port}`
  await until(async () => ((await fleet())?.workers?.length === 2 ? true : undefined), 10_000)
}, 30_000)

afterAll(async () => {
  if (gateway !== undefined && gateway.exitCode === null) {
    const exited = once(gateway, 'exit')
    gateway.kill('SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 6_000))])
    try {
      process.kill(-gateway.pid!, 'SIGKILL') // any worker left behind
    } catch {}
  }
  await Promise.all([flaky?.close(), steady?.close(), spare?.close()])
  rmSync(dir, { recursive: true, force: true })
}, 15_000)

describe('the gateway with WORKERS=2 acts as one', () => {
  it('probes each upstream once per interval, from the primary, not once per worker', async () => {
    for (const up of [flaky, steady, spare]) await expect.poll(() => probes(up)).toBe(1)
    // The workers are serving and have had time to probe, had they been probing.
    for (let i = 0; i < 4; i++) await fresh('/')
    for (const up of [flaky, steady, spare]) expect(probes(up)).toBe(1)
  }, 20_000)

  it('skips in every worker an upstream one worker took out (a passive failure), and one the admin API marked down in one worker', async () => {
    expect((await fresh('/')).status).toBe(200) // one worker: flaky resets it, the retry goes to steady
    expect(traffic(flaky)).toBe(1)
    // Every worker has it down when even the largest worker's "up" is 0.
    await expect.poll(() => metric(`switchyard_upstream_state{upstream="${flaky.url}",state="up"}`)).toBe(0)
    for (let i = 0; i < 6; i++) expect(JSON.parse((await fresh('/')).text).name).toBe('steady')
    expect(traffic(flaky)).toBe(1) // one failure in one worker, and no worker tried it again
    const id = encodeURIComponent(steady.url)
    const patched = await fresh(`/__switchyard/api/upstreams/${id}`, { method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{"down":true}' })
    expect(patched.status).toBe(200)
    await expect.poll(() => metric(`switchyard_upstream_state{upstream="${steady.url}",state="up"}`)).toBe(0)
    const before = traffic(steady)
    for (let i = 0; i < 6; i++) expect(JSON.parse((await fresh('/')).text).name).toBe('spare')
    expect(traffic(steady)).toBe(before)
    const pids = (await fleet())!.workers!.map((w) => w.pid)
    await expect.poll(async () => (await fleet())!.workers!.every((w) => w.requests > 0)).toBe(true) // both workers served
    expect(new Set(pids).size).toBe(2)
  }, 20_000)

  it('answers /metrics for the whole gateway: scrapes in a row, whichever worker takes them, never go backwards, a replaced worker included', async () => {
    for (let i = 0; i < 5; i++) await fresh('/')
    const seen: number[] = []
    for (let i = 0; i < 6; i++) seen.push(await metric('switchyard_requests_total'))
    expect(seen.every((n) => n === seen[0])).toBe(true) // no request between: every worker's scrape says the same
    for (let i = 0; i < 4; i++) await fresh('/')
    expect(await metric('switchyard_requests_total')).toBe(seen[0]! + 4)
    const total = seen[0]! + 4
    // A worker dies: the primary forks another, and the gateway's totals keep the dead one's counts.
    const { pid } = (await fleet())!.workers![0]!
    process.kill(pid, 'SIGKILL')
    await expect.poll(() => output.join('').includes(`worker ${pid} exited; starting another`), { timeout: 10_000 }).toBe(true)
    const replaced = async () => {
      const workers = (await surviving(fleet))?.workers ?? []
      return workers.length === 2 && !workers.some((w) => w.pid === pid)
    }
    await expect.poll(replaced, { timeout: 15_000, interval: 200 }).toBe(true)
    for (let i = 0; i < 4; i++) expect(await surviving(() => metric('switchyard_requests_total'))).toBeGreaterThanOrEqual(total)
    // The new worker was told what the others decided: the upstreams taken out stay out in it too.
    for (let i = 0; i < 4; i++) expect(JSON.parse((await surviving(() => fresh('/'))).text).name).toBe('spare')
  }, 45_000)
})
