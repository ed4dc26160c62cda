// `pnpm bench:scaling`: how the gateway's throughput grows with `WORKERS`, beside nginx with as many
// worker processes, in one run.
//
// The layout the comparison needs: k proxy workers on cores 0..k-1 and nothing else there; the
// backends (one process per remaining core) and wrk (one thread per remaining core) on the other
// cores. Half the cores go to the proxy, so k runs over 1, 2, 4, … up to half the machine: a Node
// proxy costs about 3× what a backend answering by itself does per request (RESULTS.md: the floor
// against Node alone), so the other half keeps up with it on tiny JSON. 64 connections per worker,
// tiny JSON, rounds interleaved, medians. With fewer than 4 cores only k = 1 can run, and the script
// says so. Writes bench/results/scaling.json and prints a Markdown table.
//
//   pnpm bench:scaling                          3 rounds of 5 s per case
//   pnpm bench:scaling -- --rounds 1 --seconds 2
//   pnpm bench:scaling -- --workers 1,2   other worker counts (the proxy's cores are 0..k-1; the load
//                                          runs on the cores above the largest k, or unpinned when
//                                          none is left, which is no scaling measurement)
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { load } from './lib/load.mjs'
import { ensureNginx, nginxArgs } from './lib/nginx.mjs'
import { cpuMicros, family } from './lib/proc.mjs'
import { freePort, pinned, stop, waitForHttp } from './lib/spawn.mjs'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const { values: flags } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    workers: { type: 'string' },
  },
})
const rounds = Number(flags.rounds)
const seconds = Number(flags.seconds)
const warmup = Number(flags.warmup)

const cores = os.cpus().length
const half = Math.max(1, Math.floor(cores / 2))
const counts = flags.workers ? flags.workers.split(',').map(Number) : [1]
if (!flags.workers) {
  for (let k = 2; k <= half; k *= 2) counts.push(k)
  if (counts.at(-1) !== half) counts.push(half)
}
const top = Math.max(...counts)
const proxyCores = (k) => (k === 1 ? '0' : `0-${k - 1}`)
const loadCores = Array.from({ length: Math.max(0, cores - top) }, (_, i) => top + i)
const LOAD = loadCores.length > 0 ? loadCores.join(',') : undefined

/** One backends process per load core, each pinned to its core: the backends scale with the load side. */
async function startBackends() {
  const procs = []
  const upstreams = []
  for (const core of loadCores.length > 0 ? loadCores : [undefined]) {
    const child = pinned(core === undefined ? undefined : String(core), process.execPath, [here('./backends.mjs'), 'a', 'b'])
    const { ports } = await new Promise((resolve, reject) => {
      child.stdout.on('data', () => {
        const line = child.log().split('\n').find((l) => l.startsWith('{'))
        if (line) resolve(JSON.parse(line))
      })
      child.once('exit', () => reject(new Error(`backends exited: ${child.log()}`)))
    })
    procs.push(child)
    for (const p of ports) upstreams.push(`http://127.0.0.1:${p}`)
  }
  return { procs, upstreams }
}

const nginxBin = ensureNginx()
const gateway = here('../examples/gateway/dist/main.js')
const QUIET = { METRICS_PATH: 'off', ACCESS_LOG: 'off', STATUS_PATH: 'off' }
const SYSTEMS = [
  nginxBin && { name: 'nginx', start: (k, port, ups) => pinned(proxyCores(k), nginxBin, nginxArgs({ port, upstreams: ups, workers: k })) },
  {
    name: 'switchyard',
    start: (k, port, ups) =>
      pinned(proxyCores(k), process.execPath, [gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: String(k), ...QUIET }),
  },
].filter(Boolean)

async function measure(system, k, upstreams) {
  const port = await freePort()
  const child = system.start(k, port, upstreams)
  try {
    await waitForHttp(port, child)
    const url = `http://127.0.0.1:${port}/`
    const connections = 64 * k
    const threads = Math.max(1, loadCores.length)
    await load({ url, connections, seconds: warmup, core: LOAD, threads })
    const pids = family(child.pid)
    const before = cpuMicros(pids)
    const r = await load({ url, connections, seconds, core: LOAD, threads })
    return { ...r, cpuUs: (cpuMicros(pids) - before) / Math.max(1, r.requests) }
  } finally {
    await stop(child)
  }
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]
}

const { procs, upstreams } = await startBackends()
const runs = {}
try {
  console.log(`switchyard scaling: ${cores} cores; proxy workers ${counts.join(', ')} on cores 0..k-1; load and backends on ${LOAD ?? 'the same cores'}`)
  if (loadCores.length === 0) console.log('the load and backends share the proxy cores: this run checks the cases work; it measures no scaling')
  else if (cores < 4 && !flags.workers) console.log(`only k = 1 can run on ${cores} cores: k = 2 needs 2 proxy cores and at least 2 for the load and backends`)
  for (let round = 0; round < rounds; round++) {
    for (const k of counts) {
      for (const system of SYSTEMS) {
        const r = await measure(system, k, upstreams)
        ;(runs[`${system.name}/${k}`] ??= []).push(r)
        console.log(`round ${round + 1} ${system.name} k=${k}: ${Math.round(r.rps)} req/s p99 ${r.p99} ms cpu ${r.cpuUs.toFixed(1)} µs/req errors ${r.errors}`)
      }
    }
  }
} finally {
  for (const p of procs) await stop(p)
}

const rows = []
for (const k of counts) {
  for (const system of SYSTEMS) {
    const list = runs[`${system.name}/${k}`]
    rows.push({ system: system.name, workers: k, rps: median(list.map((r) => r.rps)), p99: median(list.map((r) => r.p99)), cpuUs: median(list.map((r) => r.cpuUs)), errors: list.reduce((a, r) => a + r.errors, 0) })
  }
}
const base = (name) => rows.find((r) => r.system === name && r.workers === 1)?.rps
const nginxAt = (k) => rows.find((r) => r.system === 'nginx' && r.workers === k)?.rps
let table = '| system | workers (cores) | req/s | × its 1-worker req/s | vs nginx, same workers | p99 ms | CPU µs/req | errors |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n'
for (const r of rows) {
  const vsNginx = r.system === 'nginx' || !nginxAt(r.workers) ? '—' : `${(r.rps / nginxAt(r.workers)).toFixed(2)}×`
  table += `| ${r.system} | ${r.workers} | ${Math.round(r.rps)} | ${(r.rps / base(r.system)).toFixed(2)}× | ${vsNginx} | ${r.p99.toFixed(2)} | ${r.cpuUs.toFixed(1)} | ${r.errors} |\n`
}
console.log(`\n${table}`)
mkdirSync(here('./results'), { recursive: true })
writeFileSync(here('./results/scaling.json'), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores, counts, rows }, null, 2)}\n`)
