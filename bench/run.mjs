// `pnpm bench`: Switchyard against nginx, the Node peers and direct-to-backend, in one run.
//
// Setup (the issue's): loopback backends and the load generator on one core, the proxy under test
// alone on the other (taskset), 64 and 256 keep-alive connections, rounds interleaved, medians.
// Reported: req/s, p50, p99, proxy CPU µs per request (from /proc), peak RSS, and ratios to nginx
// and to the bare-undici floor. Results go to bench/RESULTS.md (bench/results/latest.json always).
//
//   pnpm bench                      full run (about 15 minutes)
//   pnpm bench -- --quick           1 s per case, 1 round: only checks that every case still runs
//   pnpm bench -- --only nginx,switchyard --scenarios tiny
//   pnpm bench -- --only protocols  WebSocket messages and HTTP/2 upstreams only
//   pnpm bench -- --only profile    CPU profiles of the gateway and of Node's server alone
//   pnpm bench -- --only cost       the A/B of the gateway's defaults and optional features against
//                                   the library, every configuration running at once (lib/cost.mjs)
//   pnpm bench -- --only storms     256 connections at once on Node 24 (listeners 1, 4, 16, 64) and 20
//   pnpm bench -- --soak            1 000 000 requests through the gateway; RSS and heap growth
//   pnpm bench -- --waf             the WAF rows: the gateway with and without guards.waf, nginx
//                                   with and without ModSecurity, the same CRS (Debian's), GET and JSON
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { load, tool } from './lib/load.mjs'
import { ensureNginx, MODSEC_MODULE, nginxArgs, nginxBackendArgs, nginxVersion } from './lib/nginx.mjs'
import { gcOfWindow } from './lib/gc.mjs'
import { BUCKETS, FEATURES, featureTime, profileBuckets, readProfile } from './lib/profile.mjs'
import { cpuMicros, family, peakRssMb } from './lib/proc.mjs'
import { freePort, pinned, stop, waitForHttp } from './lib/spawn.mjs'
import { runStorms, stormsTable } from './lib/storms.mjs'
import { costAB, costMedian, costRatio, costRatios, pairAB } from './lib/cost.mjs'
import { nodeOfMajor, versionOf } from './lib/node-versions.mjs'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const { values: flags } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'), // `pnpm bench -- --quick` passes the `--` on
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    waf: { type: 'boolean', default: false },
    only: { type: 'string' },
    scenarios: { type: 'string' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    'soak-requests': { type: 'string', default: '1000000' },
    'cost-rounds': { type: 'string' },
    'cost-seconds': { type: 'string' },
    'cost-batches': { type: 'string' },
  },
})
const quick = flags.quick
const rounds = Number(flags.rounds ?? (quick ? 1 : 3))
const seconds = Number(flags.seconds ?? (quick ? 1 : 5))
// Node proxies need a few seconds of traffic before V8 has optimized the hot path; measured
// with 1 s, their p99 still held cold-start pauses of 0.4-1 s.
const warmupSeconds = Number(flags.warmup ?? (quick ? 0.5 : 3))
const twoCores = os.cpus().length >= 2
const PROXY_CORE = twoCores ? 0 : undefined
const LOAD_CORE = twoCores ? 1 : undefined

// --- backends -----------------------------------------------------------------------------------
const backends = pinned(LOAD_CORE, process.execPath, [here('./backends.mjs'), 'a', 'b', 'fast', 'slow:20'])
const { ports, control } = await new Promise((resolve, reject) => {
  backends.stdout.on('data', () => {
    const line = backends.log().split('\n').find((l) => l.startsWith('{'))
    if (line) resolve(JSON.parse(line))
  })
  backends.once('exit', () => reject(new Error(`backends exited: ${backends.log()}`)))
})
const url = (p) => `http://127.0.0.1:${p}`
const SLOW = [url(ports[2]), url(ports[3])] // the second answers 20 ms later
const hits = async (reset = false) =>
  (await (await fetch(`http://127.0.0.1:${control}/`, { method: reset ? 'POST' : 'GET' })).json())
const nginxBin = ensureNginx()
// The plain backends: nginx's static answers where nginx is installed (a fraction of a Node
// server's cost, so the core the backends share with wrk does not set the proxies' pace; the run
// is marked invalid when it does: see pace()), else the Node ones.
const nginxBackendPorts = nginxBin ? [await freePort(), await freePort()] : []
const nginxBackends = nginxBin ? pinned(LOAD_CORE, nginxBin, nginxBackendArgs({ ports: nginxBackendPorts })) : undefined
if (nginxBackends) for (const p of nginxBackendPorts) await waitForHttp(p, nginxBackends)
const NODE_BACKENDS = [url(ports[0]), url(ports[1])]
const NORMAL = nginxBackends ? nginxBackendPorts.map(url) : NODE_BACKENDS
const BACKENDS = nginxBackends ? 'nginx (static answers, one worker)' : 'Node (bench/backends.mjs)'

// --- proxies ------------------------------------------------------------------------------------
const gateway = here('../examples/gateway/dist/main.js')
const node = process.execPath

/**
 * A typical guard chain for the gateway's cost-of-guards row: an address allow list and a rate
 * limit per client address that the load never reaches (it measures the checks, not refusals).
 */
const guardsConfig = join(mkdtempSync(join(os.tmpdir(), 'swy-bench-')), 'guards.json')
writeFileSync(
  guardsConfig,
  JSON.stringify({ guards: { ipFilter: { allow: ['loopback', 'private'] }, rateLimit: { rate: 1e9, burst: 1_000_000_000 } } }),
)

/**
 * The gateway's metrics, access log and status page are on by default; the library's are off. The
 * Switchyard cases run with all three off (the library's defaults), `switchyard-observed` with
 * metrics and the access log on (the log to /dev/null), so the row between them is their cost, and
 * `switchyard-defaults` as the gateway starts (all three on; the log to /dev/null, not a terminal).
 */
const QUIET = { METRICS_PATH: 'off', ACCESS_LOG: 'off', STATUS_PATH: 'off' }
const OBSERVED = { METRICS_PATH: '/metrics', ACCESS_LOG: '/dev/null' }
const DEFAULTS = { ACCESS_LOG: '/dev/null' }

/** Transforms for the cost-of-transforms row: a path rule, a request and a response header table. */
const transformsConfig = join(mkdtempSync(join(os.tmpdir(), 'swy-bench-')), 'transforms.json')
writeFileSync(
  transformsConfig,
  JSON.stringify({
    balancer: {
      rewritePath: { stripPrefix: '/api' },
      requestHeaders: { set: { 'x-env': 'bench' }, remove: ['x-debug'] },
      responseHeaders: { set: { 'x-served-by': 'switchyard' } },
    },
  }),
)

/**
 * The cache and compression rows: the gateway with `cache` (undici's memory store) against nginx's
 * `proxy_cache`, on a response the backend lets caches keep; the gateway with `compress` against
 * nginx's `gzip`, both at gzip level 6 (Switchyard's default; nginx's is 1, and configs commonly set
 * 5 or 6) on 16 KiB of JSON, for clients that accept gzip (nginx here has no brotli module).
 */
const cacheConfig = join(mkdtempSync(join(os.tmpdir(), 'swy-bench-')), 'cache.json')
writeFileSync(cacheConfig, JSON.stringify({ balancer: { cache: true } }))
const compressConfig = join(mkdtempSync(join(os.tmpdir(), 'swy-bench-')), 'compress.json')
writeFileSync(compressConfig, JSON.stringify({ balancer: { compress: { level: { gzip: 6 } } } }))
const GZIP = 'wrk.headers["Accept-Encoding"] = "gzip"\n'

/**
 * The WAF rows: Debian's CRS 3.3 at paranoia level 1, in the gateway (guards.waf) and in nginx
 * (libmodsecurity 3), on requests that vary as traffic does (wrk scripts below): the query's
 * words and numbers, the JSON order's ids. Identical requests would measure the WAF's memo only.
 */
const CRS = '/usr/share/modsecurity-crs'
const wafConfig = join(mkdtempSync(join(os.tmpdir(), 'swy-bench-')), 'waf.json')
writeFileSync(wafConfig, JSON.stringify({ guards: { waf: { crs: CRS } } }))
const BROWSER_HEADERS = `wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
wrk.headers["Cookie"] = "session=3f9a2c7e1b8d4a6f; theme=dark"
`
const WAF_GET = `${BROWSER_HEADERS}local n = 0
local words = {"blue", "shoes", "red", "laptop", "garden", "chair", "winter", "coat", "lamp", "desk"}
request = function()
  n = n + 1
  return wrk.format("GET", "/search?q=" .. words[n % 10 + 1] .. "+" .. words[(n * 7) % 10 + 1] .. "+" .. n .. "&page=" .. (n % 9))
end
`
// A 2 KiB JSON order: 24 items, each id and quantity from the request's number.
const WAF_JSON = `${BROWSER_HEADERS}wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local items = {}
  for i = 1, 24 do items[i] = string.format('{"sku":"A-%d","qty":%d,"note":"Leave it at the door, ring twice"}', (n * 31 + i) % 100000, (n + i) % 5 + 1) end
  local body = string.format('{"order":%d,"user":{"id":%d,"name":"Jane Doe","email":"jane@example.com"},"items":[%s]}', n, n % 5000, table.concat(items, ","))
  return wrk.format("POST", "/api/orders", nil, body)
end
`
const WAF_PROXIES = ['nginx', 'nginx-modsecurity', 'switchyard', 'switchyard-waf']

/** Each proxy: start(port, upstreams) → child process, or null for direct-to-backend. */
const PROXIES = [
  { name: 'direct', direct: true },
  nginxBin && { name: 'nginx', start: (port, ups) => pinned(PROXY_CORE, nginxBin, nginxArgs({ port, upstreams: ups })) },
  { name: 'node-alone', scenarios: ['tiny', '64k', 'upload-1m'], start: (port) => pinned(PROXY_CORE, node, [here('./proxies/node-alone.mjs')], { PORT: port }) },
  { name: 'undici-stream', start: (port, ups) => pinned(PROXY_CORE, node, [here('./proxies/undici-stream.mjs')], { PORT: port, UPSTREAMS: ups.join(',') }) },
  { name: 'undici-bare', start: (port, ups) => pinned(PROXY_CORE, node, [here('./proxies/undici-bare.mjs')], { PORT: port, UPSTREAMS: ups.join(',') }) },
  { name: 'http-proxy', start: (port, ups) => pinned(PROXY_CORE, node, [here('./proxies/http-proxy.mjs')], { PORT: port, UPSTREAMS: ups.join(',') }) },
  { name: 'fastify-http-proxy', start: (port, ups) => pinned(PROXY_CORE, node, [here('./proxies/fastify-proxy.mjs')], { PORT: port, UPSTREAMS: ups.join(',') }) },
  { name: 'switchyard-library', scenarios: ['tiny', '64k'], start: (port, ups) => pinned(PROXY_CORE, node, [here('./proxies/library.mjs')], { PORT: port, UPSTREAMS: ups.join(',') }) },
  { name: 'switchyard', start: (port, ups, strategy = 'roundRobin') => pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), STRATEGY: strategy, WORKERS: '1', ...QUIET }) },
  {
    name: 'switchyard-guards',
    scenarios: ['tiny'],
    start: (port, ups) =>
      pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: '1', GATEWAY_CONFIG: guardsConfig, ...QUIET }),
  },
  {
    name: 'switchyard-transforms',
    scenarios: ['tiny'],
    start: (port, ups) =>
      pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: '1', GATEWAY_CONFIG: transformsConfig, ...QUIET }),
  },
  {
    name: 'switchyard-observed',
    scenarios: ['tiny'],
    start: (port, ups) => pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: '1', ...QUIET, ...OBSERVED }),
  },
  {
    name: 'switchyard-defaults',
    scenarios: ['tiny'],
    start: (port, ups) => pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: '1', ...DEFAULTS }),
  },
  nginxBin &&
    MODSEC_MODULE && { name: 'nginx-modsecurity', scenarios: ['waf-get', 'waf-json'], start: (port, ups) => pinned(PROXY_CORE, nginxBin, nginxArgs({ port, upstreams: ups, modsecurity: { crs: CRS } })) },
  {
    name: 'switchyard-waf',
    scenarios: ['waf-get', 'waf-json'],
    start: (port, ups) => pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: '1', GATEWAY_CONFIG: wafConfig, ...QUIET }),
  },
  nginxBin && { name: 'nginx-cache', scenarios: ['cache-hit'], start: (port, ups) => pinned(PROXY_CORE, nginxBin, nginxArgs({ port, upstreams: ups, cache: true })) },
  nginxBin && { name: 'nginx-gzip', scenarios: ['gzip-16k'], start: (port, ups) => pinned(PROXY_CORE, nginxBin, nginxArgs({ port, upstreams: ups, gzip: 6 })) },
  {
    name: 'switchyard-cache',
    scenarios: ['cache-hit'],
    start: (port, ups) => pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: '1', GATEWAY_CONFIG: cacheConfig, ...QUIET }),
  },
  {
    name: 'switchyard-compress',
    scenarios: ['gzip-16k'],
    start: (port, ups) => pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: '1', GATEWAY_CONFIG: compressConfig, ...QUIET }),
  },
  { name: 'switchyard-2-workers', start: (port, ups) => pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: '2', ...QUIET }) },
].filter(Boolean)

const SCENARIOS = [
  { name: 'tiny', path: '/', connections: [64, 256], upstreams: NORMAL },
  { name: '64k', path: '/64k', connections: [64, 256], upstreams: NORMAL },
  // Uploads go to the Node backends, which answer once the whole body is in: nginx's static answer
  // comes before the body is read, and some proxies then stall on the connection (13 req/s).
  { name: 'upload-1m', path: '/', uploadBytes: 1024 * 1024, connections: [64], upstreams: NODE_BACKENDS, skip: ['direct'] },
  { name: 'slow-backend', path: '/', connections: [64], upstreams: SLOW, balancing: true },
  // A cache hit, and gzip: each beside the same proxy without the feature (and the backend direct).
  { name: 'cache-hit', path: '/cached', connections: [64], upstreams: NORMAL, proxies: ['direct', 'nginx', 'nginx-cache', 'switchyard', 'switchyard-cache'] },
  { name: 'gzip-16k', path: '/text', requestLua: GZIP, connections: [64], upstreams: NORMAL, proxies: ['direct', 'nginx', 'nginx-gzip', 'switchyard', 'switchyard-compress'] },
  { name: 'waf-get', path: '/', requestLua: WAF_GET, connections: [64], upstreams: NORMAL, waf: true },
  { name: 'waf-json', path: '/', requestLua: WAF_JSON, connections: [64], upstreams: NORMAL, waf: true },
]

const only = flags.only?.split(',')
const onlyScenarios = flags.scenarios?.split(',')

/** The variants a scenario runs: every proxy, plus the balancing variants for the slow backend. */
function variants(scenario) {
  let list = PROXIES.filter((p) => !scenario.skip?.includes(p.name) && (p.scenarios === undefined || p.scenarios.includes(scenario.name)))
  if (scenario.waf) list = list.filter((p) => WAF_PROXIES.includes(p.name))
  if (scenario.proxies) list = list.filter((p) => scenario.proxies.includes(p.name))
  if (scenario.balancing) {
    list = list.filter((p) => p.name !== 'direct' && p.name !== 'switchyard-2-workers')
    if (nginxBin) list.push({ name: 'nginx-least_conn', start: (port, ups) => pinned(PROXY_CORE, nginxBin, nginxArgs({ port, upstreams: ups, leastConn: true })) })
    const sw = PROXIES.find((p) => p.name === 'switchyard')
    for (const strategy of ['leastConnections', 'peakEwma', 'powerOfTwo']) {
      list.push({ name: `switchyard-${strategy}`, start: (port, ups) => sw.start(port, ups, strategy), strategy })
    }
  }
  return only ? list.filter((p) => only.some((o) => p.name === o || p.name.startsWith(`${o}-`))) : list
}

async function measure(proxy, scenario, connections) {
  let child
  let target
  if (proxy.direct) {
    target = `${scenario.upstreams[0]}${scenario.path}`
  } else {
    const port = await freePort()
    child = proxy.start(port, scenario.upstreams)
    try {
      await waitForHttp(port, child)
    } catch (err) {
      await stop(child)
      return { skipped: String(err.message).split('\n')[0] }
    }
    target = `http://127.0.0.1:${port}${scenario.path}`
  }
  const opts = { url: target, connections, uploadBytes: scenario.uploadBytes, requestLua: scenario.requestLua, core: LOAD_CORE }
  await load({ ...opts, seconds: warmupSeconds })
  const pids = child ? family(child.pid) : []
  if (scenario.balancing) await hits(true)
  const cpu0 = cpuMicros(pids)
  const from = performance.now()
  const r = await load({ ...opts, seconds })
  const to = performance.now()
  const cpu = cpuMicros(pids) - cpu0
  const share = scenario.balancing ? await hits() : undefined
  const rss = child ? peakRssMb(family(child.pid)) : Number.NaN
  await stop(child)
  // A proxy started with --trace-gc: its collections in the measured run.
  const gc = proxy.traceGc ? await gcOfWindow(child, from, to) : undefined
  return {
    ...r,
    cpuUsPerReq: child && r.requests ? cpu / r.requests : Number.NaN,
    rssMb: rss,
    fastShare: share ? share[2] / Math.max(1, share[2] + share[3]) : undefined,
    gc: gc && r.requests ? { fullGcsPer10k: (gc.fullGcs * 10_000) / r.requests, mainUsPerReq: ((gc.pauseMs + gc.stepsMs) * 1000) / r.requests } : undefined,
  }
}

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  return v.length ? v[Math.floor((v.length - 1) / 2)] : Number.NaN
}

async function runMatrix() {
  const cases = []
  for (const scenario of SCENARIOS) {
    if (onlyScenarios && !onlyScenarios.includes(scenario.name)) continue
    if (Boolean(scenario.waf) !== flags.waf) continue // the WAF rows run alone (--waf), into their own section
    for (const connections of scenario.connections) {
      for (const proxy of variants(scenario)) cases.push({ scenario, connections, proxy, runs: [] })
    }
  }
  for (let round = 1; round <= rounds; round++) {
    for (const c of cases) {
      const r = await measure(c.proxy, c.scenario, c.connections)
      c.runs.push(r)
      const label = `${c.scenario.name}/${c.connections}/${c.proxy.name}`
      console.log(
        r.skipped
          ? `round ${round} ${label}: skipped (${r.skipped})`
          : `round ${round} ${label}: ${Math.round(r.rps)} req/s p99 ${r.p99.toFixed(2)} ms cpu ${r.cpuUsPerReq.toFixed(1)} µs/req${r.errors ? ` errors ${r.errors}` : ''}`,
      )
    }
  }
  return cases.map((c) => {
    const ok = c.runs.filter((r) => !r.skipped)
    return {
      scenario: c.scenario.name,
      connections: c.connections,
      proxy: c.proxy.name,
      skipped: ok.length === 0 ? c.runs[0]?.skipped : undefined,
      rps: median(ok.map((r) => r.rps)),
      p50: median(ok.map((r) => r.p50)),
      p99: median(ok.map((r) => r.p99)),
      cpuUsPerReq: median(ok.map((r) => r.cpuUsPerReq)),
      cpuRuns: ok.map((r) => r.cpuUsPerReq),
      rssMb: ok.some((r) => Number.isFinite(r.rssMb)) ? Math.max(...ok.map((r) => r.rssMb).filter(Number.isFinite)) : Number.NaN,
      errors: ok.reduce((n, r) => n + r.errors, 0),
      fastShare: median(ok.map((r) => r.fastShare ?? Number.NaN)),
    }
  })
}

async function runDispatcher() {
  const out = { pool: [], switchyard: [] }
  const runOnce = async (mode, args) => {
    const child = pinned(PROXY_CORE, node, [...args.extra ?? [], here('./dispatcher.mjs'), mode, NORMAL.join(','), String(args.seconds), '64', 'h1', String(args.rounds ?? 1)])
    await new Promise((r) => child.once('exit', r))
    const line = child.log().trim().split('\n').at(-1)
    try {
      return JSON.parse(line)
    } catch {
      console.log(`dispatcher ${mode}: ${child.log()}`)
      return undefined
    }
  }
  // The one-process A/B (dispatcher.mjs pair): both sides in each process, 1 s slices in an order
  // that reverses every round; the ratio is the median over every pair of slices of every process.
  // Back-to-back processes (this bench's method until round 3) spread 0.81-1.29 in one run here.
  const processes = quick ? 1 : 3
  const pairs = []
  const perProcess = []
  let errors = 0
  for (let n = 1; n <= processes; n++) {
    const r = await runOnce('pair', { seconds: 1, rounds: quick ? 2 : 12 })
    if (r === undefined) continue
    errors += r.errors
    const mine = r.slices.map((s) => s.switchyard.rps / s.pool.rps)
    for (const s of r.slices) for (const k of ['pool', 'switchyard']) out[k].push(s[k])
    pairs.push(...mine)
    perProcess.push(median(mine))
    console.log(`dispatcher A/B, process ${n}/${processes}: lb.dispatcher/Pool req/s median ${fmt(median(mine), 3)} (${mine.map((x) => fmt(x, 2)).join(' ')})`)
  }
  // Where the difference is: Switchyard's own code in a profiled run of the balancer's side.
  const dir = mkdtempSync(join(os.tmpdir(), 'swy-prof-dispatcher-'))
  const profiled = await runOnce('switchyard', { seconds, extra: ['--cpu-prof', '--cpu-prof-dir', dir] })
  const profile = readProfile(dir)
  let own
  if (profiled !== undefined && profile !== undefined) {
    const { feature, total } = featureTime(profile, /packages\//, /^dispatch \S*packages\/core\//)
    own = { share: feature / total, usPerReq: (feature / total) * profiled.cpuUsPerReq }
  }
  const summary = (m) => ({ rps: median(out[m].map((r) => r.rps)), cpuUsPerReq: median(out[m].map((r) => r.cpuUsPerReq)) })
  return { pool: summary('pool'), switchyard: summary('switchyard'), pairedRatio: median(pairs), pairs, perProcess, errors, own }
}

// --- protocols: WebSocket messages, HTTP/2 upstreams ------------------------------------------

/** Starts a protocols.mjs role pinned to `core`; resolves with the child and its first output line. */
function role(core, args) {
  const child = pinned(core, node, [here('./protocols.mjs'), ...args])
  return new Promise((resolve, reject) => {
    const onData = () => {
      const line = child.log().split('\n')[0]
      if (child.log().includes('\n')) {
        child.stdout.off('data', onData)
        resolve({ child, line })
      }
    }
    child.stdout.on('data', onData)
    child.once('exit', () => reject(new Error(`${args[0]} exited: ${child.log()}`)))
  })
}

/** Output lines of a child, as they come: `next()` resolves with the next one. */
function lines(child) {
  let seen = 0
  return () =>
    new Promise((resolve, reject) => {
      const check = () => {
        const all = child.log().split('\n')
        if (all.length - 1 > seen) {
          child.stdout.off('data', check)
          resolve(all[seen++])
        }
      }
      child.stdout.on('data', check)
      child.once('exit', () => reject(new Error(`exited: ${child.log()}`)))
      check()
    })
}

async function runProtocols() {
  const ws = {}
  const h2 = {}
  const wsBackend = await role(LOAD_CORE, ['ws-backend'])
  const wsUrl = url(JSON.parse(wsBackend.line).port)
  const h2Backend = await role(LOAD_CORE, ['h2-backend'])
  const h2Urls = JSON.parse(h2Backend.line).ports.map(url).join(',')
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const mode of ['direct', 'relay', 'switchyard']) {
        let proxy
        let target = wsUrl
        if (mode !== 'direct') {
          const port = await freePort()
          proxy = (await role(PROXY_CORE, [`ws-${mode}`, String(port), wsUrl])).child
          target = url(port)
        }
        const pids = proxy ? family(proxy.pid) : []
        const loader = pinned(LOAD_CORE, node, [here('./protocols.mjs'), 'ws-load', target, '64', String(seconds), String(warmupSeconds)])
        const next = lines(loader)
        await next() // counting starts
        const cpu0 = cpuMicros(pids)
        const result = JSON.parse(await next())
        const cpu = cpuMicros(pids) - cpu0
        await stop(loader)
        await stop(proxy)
        const r = { mps: result.messages / result.seconds, cpuUsPerMsg: proxy ? cpu / result.messages : Number.NaN }
        ;(ws[mode] ??= []).push(r)
        console.log(`round ${round} websocket/${mode}: ${Math.round(r.mps)} msg/s cpu ${fmt(r.cpuUsPerMsg, 1)} µs/msg`)
      }
      for (const mode of ['pool', 'switchyard']) {
        const child = pinned(PROXY_CORE, node, [here('./dispatcher.mjs'), mode, h2Urls, String(seconds), '64', 'h2'])
        await new Promise((r) => child.once('exit', r))
        const r = JSON.parse(child.log().trim().split('\n').at(-1))
        ;(h2[mode] ??= []).push(r)
        console.log(`round ${round} h2-upstream/${mode}: ${Math.round(r.rps)} req/s cpu ${fmt(r.cpuUsPerReq, 1)} µs/req${r.errors ? ` errors ${r.errors}` : ''}`)
      }
    }
  } finally {
    await stop(wsBackend.child)
    await stop(h2Backend.child)
  }
  const sum = (runs, keys) => Object.fromEntries(keys.map((k) => [k, median((runs ?? []).map((r) => r[k]))]))
  return {
    ws: Object.fromEntries(Object.entries(ws).map(([m, runs]) => [m, sum(runs, ['mps', 'cpuUsPerMsg'])])),
    h2: Object.fromEntries(Object.entries(h2).map(([m, runs]) => [m, { ...sum(runs, ['rps', 'cpuUsPerReq']), errors: runs.reduce((n, r) => n + r.errors, 0) }])),
  }
}

function protocolsTable(p) {
  if (p === undefined) return ''
  const { ws, h2 } = p
  return [
    'WebSocket echo, 64 connections ping-ponging 64-byte messages (a message: one frame each way through the proxy), proxy alone on its core:',
    '',
    '| path | messages/s | proxy CPU µs/message | vs bare ws relay |',
    '|---|---|---|---|',
    `| direct to the ws server (client and server share the load core) | ${fmt(ws.direct?.mps)} | — | — |`,
    `| bare \`ws\` relay (a ws server opening a ws client per connection) | ${fmt(ws.relay?.mps)} | ${fmt(ws.relay?.cpuUsPerMsg, 2)} | 1.00 |`,
    `| Switchyard (\`lb.upgrade\`: the handshake balanced, then a TCP tunnel) | ${fmt(ws.switchyard?.mps)} | ${fmt(ws.switchyard?.cpuUsPerMsg, 2)} | ${ratio(ws.switchyard?.mps, ws.relay?.mps)}× msgs, ${ratio(ws.switchyard?.cpuUsPerMsg, ws.relay?.cpuUsPerMsg)}× CPU |`,
    '',
    'HTTP/2 upstreams (h2c, tiny JSON): undici.request with 64 callers in one process on the proxy core:',
    '',
    '| path | req/s | CPU µs/req | vs bare h2 Pool |',
    '|---|---|---|---|',
    `| bare undici \`Pool\` (\`allowH2\`, round robin over two) | ${fmt(h2.pool?.rps)} | ${fmt(h2.pool?.cpuUsPerReq, 1)} | 1.00 |`,
    `| \`lb.dispatcher\` with \`http2: true\` | ${fmt(h2.switchyard?.rps)} | ${fmt(h2.switchyard?.cpuUsPerReq, 1)} | ${ratio(h2.switchyard?.rps, h2.pool?.rps)}× req/s, ${ratio(h2.switchyard?.cpuUsPerReq, h2.pool?.cpuUsPerReq)}× CPU |`,
  ].join('\n')
}

// --- profile: where each microsecond above Node's own server goes --------------------------------

async function profileOne(name, start) {
  const dir = mkdtempSync(join(os.tmpdir(), `swy-prof-${name}-`))
  const port = await freePort()
  const child = start(port, dir)
  await waitForHttp(port, child)
  const url = `http://127.0.0.1:${port}/`
  const warm = await load({ url, connections: 64, seconds: warmupSeconds, core: LOAD_CORE })
  const from = performance.now()
  const r = await load({ url, connections: 64, seconds, core: LOAD_CORE })
  const to = performance.now()
  await stop(child) // SIGTERM: both exit cleanly, and V8 writes the profile
  const gc = await gcOfWindow(child, from, to) // --trace-gc lines of the measured run only
  const profile = readProfile(dir)
  if (profile === undefined) return undefined
  const requests = warm.requests + r.requests
  const per = (us) => us / requests
  const buckets = Object.fromEntries(Object.entries(profileBuckets(profile)).map(([k, us]) => [k, per(us)]))
  const features = Object.fromEntries(
    Object.entries(FEATURES).map(([k, pattern]) => {
      const { feature, total } = featureTime(profile, pattern)
      return [k, { usPerReq: per(feature), share: feature / total, added: feature / Math.max(1, total - feature) }]
    }),
  )
  const per100k = (x) => (x * 100_000) / r.requests
  return {
    buckets,
    features,
    gc: { scavenges: per100k(gc.scavenges), fullGcs: per100k(gc.fullGcs), pauseMs: per100k(gc.pauseMs), freedMb: per100k(gc.freedMb), p99: r.p99 },
  }
}

async function runProfile() {
  const flags = (dir) => ['--cpu-prof', '--cpu-prof-dir', dir, '--trace-gc']
  const gw = (config) => (port, dir) => pinned(PROXY_CORE, node, [...flags(dir), gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: NORMAL.join(','), WORKERS: '1', ...QUIET, ...config })
  const runs = {
    alone: (port, dir) => pinned(PROXY_CORE, node, [...flags(dir), here('./proxies/node-alone.mjs')], { PORT: port }),
    floor: (port, dir) => pinned(PROXY_CORE, node, [...flags(dir), here('./proxies/undici-stream.mjs')], { PORT: port, UPSTREAMS: NORMAL.join(',') }),
    switchyard: gw({}),
    guards: gw({ GATEWAY_CONFIG: guardsConfig }),
    transforms: gw({ GATEWAY_CONFIG: transformsConfig }),
    observed: gw(OBSERVED),
  }
  const out = {}
  for (const [name, start] of Object.entries(runs)) {
    out[name] = await profileOne(name, start)
    if (out[name] === undefined) return undefined
  }
  return out
}

function profileTable(p) {
  if (p === undefined) return ''
  const total = (x) => Object.values(x).reduce((a, b) => a + b, 0)
  const alone = p.alone.buckets
  const sw = p.switchyard.buckets
  const rows = [
    'Where the CPU goes (tiny JSON, 64 connections, V8 CPU profiles of one run each, profiler overhead included; self time by where the code lives, µs per request):',
    '',
    '| where | Node server alone | Switchyard gateway | above the Node server |',
    '|---|---|---|---|',
  ]
  for (const [key, label] of BUCKETS) rows.push(`| ${label} | ${fmt(alone[key], 1)} | ${fmt(sw[key], 1)} | ${fmt(sw[key] - alone[key], 1)} |`)
  rows.push(`| total | ${fmt(total(alone), 1)} | ${fmt(total(sw), 1)} | ${fmt(total(sw) - total(alone), 1)} |`)
  rows.push(
    '',
    'Garbage collection per 100 000 requests (the same runs, measured part only, from `--trace-gc`; "freed" is what the collections reclaimed, near enough what the process allocated and dropped):',
    '',
    '| process | scavenges | full GCs | GC pause ms | freed MB | bytes freed per request | p99 ms (profiled) |',
    '|---|---|---|---|---|---|---|',
  )
  const names = { alone: 'Node server alone', floor: 'undici-stream (the floor)', switchyard: 'Switchyard gateway', guards: 'gateway + guards', transforms: 'gateway + transforms', observed: 'gateway + metrics + access log' }
  for (const [k, label] of Object.entries(names)) {
    const g = p[k].gc
    rows.push(`| ${label} | ${fmt(g.scavenges)} | ${fmt(g.fullGcs, 1)} | ${fmt(g.pauseMs)} | ${fmt(g.freedMb)} | ${fmt((g.freedMb * 1048576) / 100_000)} | ${fmt(g.p99, 2)} |`)
  }
  return rows.join('\n')
}

// --- cost A/B -------------------------------------------------------------------------------------
/** The configurations of the cost A/B, the library first (the base); names as in the matrix. */
const COST = ['switchyard-library', 'switchyard-library-again', 'switchyard', 'switchyard-defaults', 'switchyard-observed', 'switchyard-guards', 'switchyard-transforms']
const COST_LABELS = {
  'switchyard-library': 'the library alone (`http.createServer(lb.handler)`)',
  'switchyard-library-again': 'the library alone again: the control, whose spread is the resolution of the method',
  switchyard: 'the gateway, defaults off',
  'switchyard-defaults': 'the gateway with its defaults (access log, metrics, status page)',
  'switchyard-observed': 'the gateway with metrics + access log',
  'switchyard-guards': 'the gateway with guards (ipFilter + rateLimit)',
  'switchyard-transforms': 'the gateway with transforms',
}

async function runCost() {
  const find = (name) => PROXIES.find((p) => p && p.name === name.replace(/-again$/, ''))
  if (!COST.every(find)) return undefined
  const configs = COST.map((name) => {
    const proxy = find(name)
    return { name, start: (port) => proxy.start(port, NORMAL) }
  })
  const batches = await costAB({
    configs,
    batches: Number(flags['cost-batches'] ?? (quick ? 1 : 8)),
    rounds: Number(flags['cost-rounds'] ?? (quick ? 1 : 3)),
    seconds: Number(flags['cost-seconds'] ?? 1),
    warmupSeconds: quick ? 1 : 3,
    loadCore: LOAD_CORE,
    log: console.log,
  })
  // Each optional feature in one process beside the library alone (proxies/feature-pair.mjs).
  const pairsOn = async (bin, features, label) => {
    const out = {}
    for (const feature of features) {
      out[feature] = await pairAB({
        start: (port, port2) => pinned(PROXY_CORE, bin, [here('./proxies/feature-pair.mjs')], { PORT: port, PORT2: port2, UPSTREAMS: NORMAL.join(','), FEATURE: feature, ...PAIR_ENV[feature] }),
        processes: quick ? 1 : (PAIR_PROCESSES[feature] ?? 2),
        rounds: quick ? 1 : 12,
        warmupSeconds: quick ? 1 : 3,
        loadCore: LOAD_CORE,
        log: (line) => console.log(`${label}${feature}: ${line}`),
      })
    }
    return out
  }
  const pairs = await pairsOn(node, PAIR_FEATURES, '')
  // The gateway's target on Node 24 too (the issue asks for both): its collector and compiler
  // differ (Node 20 collects the young generation 2-4x as often under this load). Not in --quick.
  const node24 = quick ? undefined : nodeOfMajor(24)
  const version24 = node24 === undefined ? undefined : versionOf(node24)
  const pairs24 = node24 === undefined ? undefined : { version: version24, ...(await pairsOn(node24, PAIR_FEATURES_24, `${version24} `)) }
  return { ...batches, pairs, pairs24 }
}

/** The gateway's environment in the one-process A/B, as its rows above run it (feature-pair.mjs reads it). */
const PAIR_ENV = { gateway: DEFAULTS, 'gateway-off': QUIET }

/** The one-process A/B's features, the control first. */
const PAIR_FEATURES = ['control', 'guards', 'transforms', 'observed', 'gateway-off', 'gateway']
/**
 * Processes per pair, where 2 are too few: the gateway's own cost moves from process to process
 * more than the control does (six processes of its pair here: 1.075-1.125 on Node 20, 1.033-1.109
 * on Node 24, the control within ±2%), and its target is judged on its median.
 */
const PAIR_PROCESSES = { gateway: 6 }
/** Those run on Node 24 as well: the gateway's target, with its control. */
const PAIR_FEATURES_24 = ['control', 'gateway-off', 'gateway']
const PAIR_LABELS = {
  control: 'the library alone again (the control: the method\'s resolution)',
  guards: 'guard chain: `compose(ipFilter, rateLimit, lb.handler)`',
  transforms: 'transforms: `rewritePath` + request and response header tables',
  observed: 'metrics + access log: `prometheus()` + `accessLog()` to /dev/null in batches',
  'gateway-off': 'the gateway, defaults off (`startGateway` in the same process)',
  gateway: 'the gateway with its defaults (access log to /dev/null, metrics, status page; `startGateway` in the same process)',
}

function costTable(cost) {
  if (cost === undefined) return ''
  const base = 'switchyard-library'
  const rows = [
    `The cost A/B (tiny JSON, 64 connections; \`bench/lib/cost.mjs\`): ${cost.batches} batches; each starts one process per configuration on the proxy core, warms them, and loads each for ${cost.seconds} s in ${cost.rounds} round(s) whose order reverses; a configuration's ratio in a batch is its CPU per request over the library's (or over the gateway's without the feature) in the same rounds; the table gives the median over the batches:`,
    '',
    '| configuration | CPU µs/req (median of batches) | × the library | × the gateway, defaults off | per batch × the library |',
    '|---|---|---|---|---|',
  ]
  for (const name of COST) {
    const vsGw = name.startsWith(base) || name === 'switchyard' ? '—' : fmt(costRatio(cost, name, 'switchyard'), 3)
    rows.push(`| ${COST_LABELS[name]} | ${fmt(costMedian(cost, name), 1)} | ${fmt(costRatio(cost, name, base), 3)} | ${vsGw} | ${costRatios(cost, name, base).map((x) => fmt(x, 2)).join(', ')} |`)
  }
  if (cost.pairs !== undefined) {
    rows.push(
      '',
      `The one-process A/B of each optional feature (\`bench/proxies/feature-pair.mjs\`, \`pairAB\` in \`bench/lib/cost.mjs\`): one process serves the library alone on one port and a balancer with the feature (or the gateway's own server and site, \`startGateway\`) on another; the load alternates between them in 1 s slices, the order reversing each round; the ratio is the feature's CPU per request over the library's in each pair of slices, the median over every pair of its processes (one median each in the table's third column). Two processes cannot differ here, so this resolves what the gateway-to-gateway rows above cannot:`,
      '',
      '| feature | × the library alone (median of pairs) | per process | pairs |',
      '|---|---|---|---|',
    )
    for (const f of PAIR_FEATURES) {
      const p = cost.pairs[f]
      if (p !== undefined) rows.push(`| ${PAIR_LABELS[f]} | ${fmt(p.ratio, 3)} | ${p.perProcess.map((x) => fmt(x, 3)).join(', ')} | ${p.ratios.length} |`)
    }
    for (const f of PAIR_FEATURES_24) {
      const p = cost.pairs24?.[f]
      if (p !== undefined) rows.push(`| on ${cost.pairs24.version}: ${PAIR_LABELS[f]} | ${fmt(p.ratio, 3)} | ${p.perProcess.map((x) => fmt(x, 3)).join(', ')} | ${p.ratios.length} |`)
    }
  }
  return rows.join('\n')
}

// --- soak ---------------------------------------------------------------------------------------
async function runSoak(total) {
  const port = await freePort()
  const child = pinned(PROXY_CORE, node, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: NORMAL.join(','), STATS_PATH: '/__switchyard', ...QUIET })
  await waitForHttp(port, child)
  const sample = async () => (await (await fetch(`http://127.0.0.1:${port}/__switchyard`)).json()).process
  let done = 0
  const samples = []
  const warmup = Math.min(100_000, total / 10)
  while (done < total) {
    const r = await load({ url: `http://127.0.0.1:${port}/`, connections: 64, seconds: quick ? 1 : 10, core: LOAD_CORE })
    done += r.requests
    const s = await sample()
    samples.push({ requests: done, rssMb: s.rss / 1048576, heapMb: s.heapUsed / 1048576 })
    console.log(`soak: ${done} requests, rss ${(s.rss / 1048576).toFixed(1)} MB, heap ${(s.heapUsed / 1048576).toFixed(1)} MB`)
  }
  await stop(child)
  const after = samples.filter((s) => s.requests >= warmup)
  const first = after.slice(0, 3)
  const last = after.slice(-3)
  const growth = (key) => median(last.map((s) => s[key])) / median(first.map((s) => s[key])) - 1
  return { requests: done, samples, rssGrowth: growth('rssMb'), heapGrowth: growth('heapMb') }
}

// The WAF rows live in their own section of RESULTS.md, between these markers; a full run keeps it.
const WAF_MARK = '<!-- waf: written by `pnpm bench -- --waf` -->'
const WAF_END = '<!-- /waf -->'

function wafSection() {
  try {
    const text = readFileSync(here('./RESULTS.md'), 'utf8')
    const at = text.indexOf(WAF_MARK)
    const end = text.indexOf(WAF_END)
    return at < 0 || end < 0 ? '' : `\n${text.slice(at, end + WAF_END.length)}\n`
  } catch {
    return ''
  }
}

function writeWafSection(info, results) {
  let text = readFileSync(here('./RESULTS.md'), 'utf8')
  const at = text.indexOf(WAF_MARK)
  const end = text.indexOf(WAF_END)
  if (at >= 0 && end >= 0) text = `${text.slice(0, at).trimEnd()}\n${text.slice(end + WAF_END.length)}`
  const get = (s, p) => results.find((r) => r.scenario === s && r.proxy === p)
  const rows = []
  for (const [scenario, label] of [
    ['waf-get', 'GET, a short query that varies (`/search?q=<words>+<n>&page=<n>`), browser headers and a cookie'],
    ['waf-json', 'POST of a 2 KiB JSON order (24 items; ids and quantities vary per request)'],
  ]) {
    const sw = get(scenario, 'switchyard')
    const swWaf = get(scenario, 'switchyard-waf')
    const ng = get(scenario, 'nginx')
    const ms = get(scenario, 'nginx-modsecurity')
    const cost = (a, b) => (a && b && !a.skipped && !b.skipped ? a.cpuUsPerReq - b.cpuUsPerReq : Number.NaN)
    rows.push(
      `| ${label} | ${fmt(sw?.cpuUsPerReq, 1)} | ${fmt(swWaf?.cpuUsPerReq, 1)} | **${fmt(cost(swWaf, sw), 1)}** | ${fmt(swWaf?.rps)} | ${fmt(ng?.cpuUsPerReq, 1)} | ${fmt(ms?.cpuUsPerReq, 1)} | **${fmt(cost(ms, ng), 1)}** | ${fmt(ms?.rps)} | ${ratio(cost(swWaf, sw), cost(ms, ng))} |`,
    )
  }
  const section = [
    WAF_MARK,
    '## WAF: the OWASP CRS in the gateway and in nginx + ModSecurity',
    '',
    `Debian's CRS ${CRS} at paranoia level 1, unmodified, in both; 64 connections; proxy CPU µs per request from /proc (the WAF's cost is the difference to the same proxy without it); ${rounds} interleaved round(s) of ${seconds} s, medians; commit ${info.commit}; ${info.date}; ${info.nginx}, libmodsecurity 3 (Debian). Requests vary per request (wrk scripts in run.mjs), so memoized verdicts only help with what repeats in real traffic (headers, cookies, argument names).`,
    '',
    '| request | gateway µs/req | gateway + waf µs/req | **WAF cost µs** | gateway + waf req/s | nginx µs/req | nginx + ModSecurity µs/req | **ModSecurity cost µs** | nginx + ModSecurity req/s | WAF cost vs ModSecurity |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    WAF_END,
  ].join('\n')
  const soak = text.indexOf(SOAK_MARK)
  text = soak < 0 ? `${text.trimEnd()}\n\n${section}\n` : `${text.slice(0, soak).trimEnd()}\n\n${section}\n\n${text.slice(soak)}`
  writeFileSync(here('./RESULTS.md'), text)
  console.log('wrote the WAF section of bench/RESULTS.md')
}

// The soak's summary lives at the end of RESULTS.md, after this marker; a full run keeps it.
const SOAK_MARK = '<!-- soak: written by `pnpm bench -- --soak` -->'

function soakSection() {
  try {
    const text = readFileSync(here('./RESULTS.md'), 'utf8')
    const at = text.indexOf(SOAK_MARK)
    return at < 0 ? '' : `\n${text.slice(at)}`
  } catch {
    return ''
  }
}

function writeSoakSection(info, soak) {
  let text = ''
  try {
    text = readFileSync(here('./RESULTS.md'), 'utf8')
  } catch {}
  const at = text.indexOf(SOAK_MARK)
  if (at >= 0) text = text.slice(0, at).trimEnd()
  const mb = (x) => x.toFixed(1)
  const rss = soak.samples.map((s) => s.rssMb)
  const heap = soak.samples.map((s) => s.heapMb)
  const section = [
    SOAK_MARK,
    '## Soak',
    '',
    `${soak.requests} requests through the gateway (round robin, stats on) at 64 connections, sampled every 10 s from its stats endpoint; commit ${info.commit}; ${info.date}.`,
    `After warm-up (the first ${Math.min(100_000, Number(flags['soak-requests']) / 10)} requests), RSS grew ${(soak.rssGrowth * 100).toFixed(1)}% (median of the last three samples over the first three; target ≤ 10%).`,
    `RSS ranged ${mb(Math.min(...rss))}-${mb(Math.max(...rss))} MB; heap used ${mb(Math.min(...heap))}-${mb(Math.max(...heap))} MB (${(soak.heapGrowth * 100).toFixed(1)}% first to last; sampled without forcing a GC, so it moves with the collector, not with the request count).`,
    '',
  ].join('\n')
  writeFileSync(here('./RESULTS.md'), `${text}\n\n${section}`)
  console.log('wrote the soak section of bench/RESULTS.md')
}

// --- report -------------------------------------------------------------------------------------

/**
 * Whether the backends set the pace: in every case with both rows (balancing cases aside, whose
 * direct row is one backend of two), the direct row must serve ≥ 1.5× nginx's req/s, or nginx and
 * every proxy were held back by the core the backends share with the load generator, and their
 * ratios are compressed. The run says which it is, first thing.
 */
function pace(results) {
  const ratios = []
  for (const d of results) {
    if (d.proxy !== 'direct' || d.skipped || SCENARIOS.find((s) => s.name === d.scenario)?.balancing) continue
    const ng = results.find((r) => r.scenario === d.scenario && r.connections === d.connections && r.proxy === 'nginx')
    if (ng !== undefined && !ng.skipped) ratios.push({ at: `${d.scenario}/${d.connections}`, x: d.rps / ng.rps })
  }
  if (ratios.length === 0) return 'Backends: not checked (no case had both a direct and an nginx row).'
  const list = ratios.map((r) => `${r.at} ${r.x.toFixed(2)}×`).join(', ')
  const slow = ratios.filter((r) => r.x < 1.5)
  return slow.length === 0
    ? `Valid run: the backends never set the pace (direct ≥ 1.5× nginx's req/s in every case: ${list}).`
    : `**Invalid run: the backends set the pace** in ${slow.map((r) => r.at).join(', ')} (direct < 1.5× nginx's req/s: ${list}); ratios to nginx there are compressed.`
}
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—')
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : '—')

function table(results) {
  const rows = [
    '| scenario | conns | proxy | req/s | p50 ms | p99 ms | proxy CPU µs/req | peak RSS MB | req/s vs nginx | CPU vs floor (undici-stream) | CPU above Node alone µs | p99 vs nginx | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of results) {
    const peer = (name) => results.find((x) => x.scenario === r.scenario && x.connections === r.connections && x.proxy === name)
    const ng = peer('nginx')
    const floor = peer('undici-stream')
    const alone = peer('node-alone')
    const above = Number.isFinite(alone?.cpuUsPerReq) && Number.isFinite(r.cpuUsPerReq) ? fmt(r.cpuUsPerReq - alone.cpuUsPerReq, 1) : '—'
    const share = Number.isFinite(r.fastShare) ? ` (fast: ${(r.fastShare * 100).toFixed(0)}%)` : ''
    rows.push(
      r.skipped
        ? `| ${r.scenario} | ${r.connections} | ${r.proxy} | skipped: ${r.skipped} | | | | | | | | | |`
        : `| ${r.scenario} | ${r.connections} | ${r.proxy}${share} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.cpuUsPerReq, 1)} | ${fmt(r.rssMb, 1)} | ${ratio(r.rps, ng?.rps)} | ${ratio(r.cpuUsPerReq, floor?.cpuUsPerReq)} | ${above} | ${ratio(r.p99, ng?.p99)} | ${r.errors} |`,
    )
  }
  return rows.join('\n')
}

const finite = (x) => (Number.isFinite(x) ? x : undefined)

function targets(results, dispatcher, profile, cost) {
  const get = (s, c, p) => results.find((r) => r.scenario === s && r.connections === c && r.proxy === p)
  const sw = get('tiny', 64, 'switchyard')
  const ng = get('tiny', 64, 'nginx')
  const floor = get('tiny', 64, 'undici-stream')
  const hp = get('tiny', 64, 'http-proxy')
  const fp = get('tiny', 64, 'fastify-http-proxy')
  const big = get('64k', 64, 'switchyard')
  const bigFloor = get('64k', 64, 'undici-stream')
  const big256 = get('64k', 256, 'switchyard')
  const big256Ng = get('64k', 256, 'nginx')
  const lc = get('slow-backend', 64, 'nginx-least_conn')
  const check = (name, value, goal, ok) => `| ${name} | ${value} | ${goal} | ${ok === undefined ? 'not measured' : ok ? 'met' : 'not met'} |`
  const r = (a, b) => (a && b && Number.isFinite(a) && Number.isFinite(b) ? a / b : undefined)
  const lines = ['| target | measured | goal | status |', '|---|---|---|---|']
  const cpu = r(sw?.cpuUsPerReq, floor?.cpuUsPerReq)
  lines.push(check('proxy CPU per request vs the fair floor (tiny, 64 conns, defaults on)', fmt(cpu, 2), '≤ 1.0 (stretch 0.9)', cpu === undefined ? undefined : cpu <= 1))
  // Issue 28's "watching costs nothing": the gateway as it starts (access log, metrics, status
  // page) against the library alone. Judged on the one-process A/B (the gateway's own server and
  // site beside the library in one process), which resolves a few per cent; the cost A/B's
  // whole-process ratio (every configuration running at once in batches, the median of the
  // per-batch ratios) is shown beside it, and judges alone when the pair was not run.
  const watchPair = finite(cost?.pairs?.gateway?.ratio)
  const watchBatches = cost === undefined ? undefined : finite(costRatio(cost, 'switchyard-defaults', 'switchyard-library'))
  const watch = watchPair ?? watchBatches
  const watchHow =
    watchPair === undefined
      ? `the cost A/B${watchBatches === undefined ? '' : `: ${fmt(costMedian(cost, 'switchyard-defaults'), 1)} vs ${fmt(costMedian(cost, 'switchyard-library'), 1)} µs`}`
      : `the one-process A/B, control ${fmt(cost.pairs.control?.ratio, 3)}, defaults off ${fmt(cost.pairs['gateway-off']?.ratio, 3)}; whole processes ${fmt(watchBatches, 3)}`
  lines.push(check(`the gateway with its defaults (access log, metrics, status page) vs the library alone, CPU per request (tiny, 64 conns; ${watchHow})`, fmt(watch, 3), '≤ 1.05', watch === undefined ? undefined : watch <= 1.05))
  const watch24 = finite(cost?.pairs24?.gateway?.ratio)
  if (watch24 !== undefined) {
    const how24 = `the one-process A/B, control ${fmt(cost.pairs24.control?.ratio, 3)}, defaults off ${fmt(cost.pairs24['gateway-off']?.ratio, 3)}`
    lines.push(check(`the same on ${cost.pairs24.version} (${how24})`, fmt(watch24, 3), '≤ 1.05', watch24 <= 1.05))
  }
  const thr = r(sw?.rps, ng?.rps)
  lines.push(check('throughput vs nginx (tiny, 64 conns)', fmt(thr, 2), '≥ 0.70', thr === undefined ? undefined : thr >= 0.7))
  const p99 = r(sw?.p99, ng?.p99)
  lines.push(check('p99 vs nginx (tiny, 64 conns)', fmt(p99, 2), '≤ 1.5', p99 === undefined ? undefined : p99 <= 1.5))
  const vsHp = r(sw?.rps, hp?.rps)
  lines.push(check('throughput vs http-proxy', fmt(vsHp, 2), '≥ 1.5', vsHp === undefined ? undefined : vsHp >= 1.5))
  const vsFp = r(sw?.rps, fp?.rps)
  lines.push(check('throughput vs @fastify/http-proxy', fmt(vsFp, 2), '≥ 1.5', vsFp === undefined ? undefined : vsFp >= 1.5))
  const bigCpu = r(big?.cpuUsPerReq, bigFloor?.cpuUsPerReq)
  lines.push(check('proxy CPU per request vs the fair floor (64 KiB, 64 conns)', fmt(bigCpu, 2), '≤ 1.0', bigCpu === undefined ? undefined : bigCpu <= 1))
  const bigP99 = r(big256?.p99, big256Ng?.p99)
  lines.push(check('p99 vs nginx (64 KiB, 256 conns)', fmt(bigP99, 2), '≤ 2.0', bigP99 === undefined ? undefined : bigP99 <= 2))
  const disp = dispatcher?.pairedRatio
  lines.push(check('dispatcher req/s vs bare undici Pool (one-process A/B, median of the pairs of slices)', fmt(disp, 3), '≥ 1.0', disp === undefined || !Number.isFinite(disp) ? undefined : disp >= 1))
  // Optional features: judged on the one-process A/B (the feature beside the library alone in one
  // process, the median of the pairs of slices); the gateway-against-gateway ratio of the batches
  // and the share of the CPU profile in the feature's own code and what Node does for it
  // (FEATURES in lib/profile.mjs) are shown beside it.
  const features = [
    ['guards', 'switchyard-guards', 'guard chain (ipFilter + rateLimit)'],
    ['observed', 'switchyard-observed', 'metrics + access log (prom-client registry; JSON lines to /dev/null in batches)'],
    ['transforms', 'switchyard-transforms', 'transforms (rewritePath + request and response header tables)'],
  ]
  const control = cost?.pairs?.control?.ratio
  for (const [key, proxy, label] of features) {
    const one = finite(cost?.pairs?.[key]?.ratio)
    const gw = cost === undefined ? undefined : finite(costRatio(cost, proxy, 'switchyard'))
    const f = profile?.[key]?.features[key]
    const prof = f === undefined ? '' : `; in its code ${fmt(f.usPerReq, 1)} µs per request, +${fmt(f.added * 100, 1)}% (CPU profile)`
    const gwText = gw === undefined ? '' : `; gateway against gateway ${fmt(gw, 3)}`
    lines.push(
      check(
        `${label} cost (tiny, 64 conns; the one-process A/B, × the library alone, control ${fmt(control, 3)}${gwText}${prof})`,
        one === undefined ? '—' : fmt(one, 3),
        '≤ 1.05',
        one === undefined ? undefined : one <= 1.05,
      ),
    )
  }
  for (const s of ['leastConnections', 'peakEwma']) {
    const v = get('slow-backend', 64, `switchyard-${s}`)
    const x = v?.skipped ? undefined : r(v?.rps, lc?.rps)
    lines.push(check(`slow backend: ${s} req/s vs nginx least_conn`, fmt(x, 2), '≥ 0.90', x === undefined ? undefined : x >= 0.9))
  }
  return lines.join('\n')
}

function machine() {
  const commit = (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    } catch {
      return 'unknown'
    }
  })()
  const cpu = os.cpus()[0]?.model ?? 'unknown'
  return { date: new Date().toISOString(), node: process.version, cpu, cores: os.cpus().length, commit, nginx: nginxBin ? nginxVersion(nginxBin) : 'not installed', load: tool }
}

try {
  const info = machine()
  console.log(`switchyard bench: ${JSON.stringify(info)}; ${rounds} round(s) of ${seconds} s per case`)
  if (flags.soak) {
    const soak = await runSoak(Number(flags['soak-requests']))
    const text = `Soak: ${soak.requests} requests; after warm-up RSS grew ${(soak.rssGrowth * 100).toFixed(1)}%, heap ${(soak.heapGrowth * 100).toFixed(1)}% (target ≤ 10%).`
    console.log(text)
    mkdirSync(here('./results'), { recursive: true })
    writeFileSync(here('./results/soak.json'), JSON.stringify({ info, ...soak }, null, 2))
    if (!quick) writeSoakSection(info, soak)
  } else if (flags.waf) {
    const results = await runMatrix()
    console.log(table(results))
    mkdirSync(here('./results'), { recursive: true })
    writeFileSync(here('./results/waf.json'), JSON.stringify({ info, results }, null, 2))
    if (!quick) writeWafSection(info, results)
  } else {
    const results = await runMatrix()
    const dispatcher = only && !only.includes('dispatcher') ? undefined : await runDispatcher()
    const protocols = only && !only.includes('protocols') ? undefined : await runProtocols()
    const profile = only && !only.includes('profile') ? undefined : await runProfile()
    const cost = only && !only.includes('cost') ? undefined : await runCost()
    const nginx = PROXIES.find((p) => p.name === 'nginx')
    const storms = only && !only.includes('storms') ? undefined : await runStorms({ measure, gateway, nginx, pinned, PROXY_CORE, QUIET, upstreams: NORMAL, rounds, here })
    const md = [
      pace(results),
      '',
      `Machine: ${info.cpu}, ${info.cores} cores; Node ${info.node}; ${info.nginx}; load: ${info.load}; backends: ${BACKENDS}; commit ${info.commit}; ${info.date}.`,
      `Settings: proxy pinned to core ${PROXY_CORE ?? '-'}, backends and load generator on core ${LOAD_CORE ?? '-'}; ${rounds} interleaved round(s) of ${seconds} s per case after ${warmupSeconds} s warm-up; medians.`,
      '',
      table(results),
      '',
      dispatcher
        ? `Dispatcher path (undici.request, 64 callers, in one process on the proxy core): bare Pool ${fmt(dispatcher.pool.rps)} req/s at ${fmt(dispatcher.pool.cpuUsPerReq, 1)} µs/req; lb.dispatcher ${fmt(dispatcher.switchyard.rps)} req/s at ${fmt(dispatcher.switchyard.cpuUsPerReq, 1)} µs/req (medians of the 1 s slices; ${dispatcher.errors} errors). The one-process A/B, both in one process, slices alternating: lb.dispatcher/Pool req/s ${fmt(dispatcher.pairedRatio, 3)}, the median of ${dispatcher.pairs.length} pairs of slices (per process ${dispatcher.perProcess.map((x) => fmt(x, 3)).join(', ')}).${dispatcher.own ? ` In a CPU profile of the balancer's side, Switchyard's own code is ${fmt(dispatcher.own.share * 100, 1)}% of the process (${fmt(dispatcher.own.usPerReq, 1)} µs/req); the rest is undici's client, its \`request()\` API and Node, as in the bare Pool.` : ''}`
        : '',
      '',
      protocolsTable(protocols),
      '',
      profileTable(profile),
      '',
      costTable(cost),
      '',
      stormsTable(storms),
      '',
      targets(results, dispatcher, profile, cost),
    ].join('\n')
    console.log(`\n${md}`)
    mkdirSync(here('./results'), { recursive: true })
    writeFileSync(here('./results/latest.json'), JSON.stringify({ info, results, dispatcher, protocols, profile, cost, storms }, null, 2))
    if (!quick && !only && !onlyScenarios) {
      const head = readFileSync(here('./RESULTS.head.md'), 'utf8')
      writeFileSync(here('./RESULTS.md'), `${head}\n${md}\n${wafSection()}${soakSection()}`)
      console.log('\nwrote bench/RESULTS.md')
    }
  }
} finally {
  await stop(backends)
  await stop(nginxBackends)
}
