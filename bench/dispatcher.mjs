// The dispatcher path, in one pinned process: `undici.request` with 64 callers for N seconds,
// through lb.dispatcher or through bare undici Pools (round robin), to the same upstreams; with
// `h2`, HTTP/2 upstreams (h2c), the pools made as the balancer makes them (100 streams a connection).
// Prints one JSON line: { rps, cpuUsPerReq, requests, errors }.
//
// Mode `pair`, the one-process A/B: both sides in this process, warmed, then `rounds` rounds of
// one slice of N seconds each, the order reversing every round (as pairAB in lib/cost.mjs does
// for the proxies). Two processes differ by more than the ratio sought (single runs of either side
// moved by up to 2x within minutes on the 2-core machine); two slices a second apart in one process
// share its layout and the machine's speed. Prints { slices: [{ pool, switchyard }], errors }, each
// side's slice as { rps, cpuUsPerReq }.
import { createBalancer } from '@switchyard/core'
import { buildConnector, Pool, request } from 'undici'

const [mode, upstreamList, seconds = '5', concurrency = '64', protocol = 'h1', rounds = '12'] = process.argv.slice(2)
const upstreams = upstreamList.split(',')
const h2 = protocol === 'h2'

/** A side of the comparison: what each request goes through, and how to close it. */
function side(kind) {
  if (kind === 'switchyard') {
    const lb = createBalancer({ upstreams, http2: h2 })
    return { dispatch: () => lb.dispatcher, close: () => lb.close() }
  }
  const options = h2 ? { allowH2: true, pipelining: 100, connect: buildConnector({ allowH2: true, useH2c: true }) } : {}
  const pools = upstreams.map((u) => new Pool(u, options))
  let next = 0
  return { dispatch: () => pools[next++ % pools.length], close: () => Promise.all(pools.map((p) => p.close())) }
}

async function drive({ dispatch }, ms) {
  let requests = 0
  let errors = 0
  const until = performance.now() + ms
  const worker = async () => {
    while (performance.now() < until) {
      try {
        const res = await request('http://service/', { dispatcher: dispatch() })
        await res.body.dump()
        if (res.statusCode !== 200) errors++
      } catch {
        errors++
      }
      requests++
    }
  }
  await Promise.all(Array.from({ length: Number(concurrency) }, worker))
  return { requests, errors }
}

/** `ms` of load through `through`: its req/s and CPU µs a request (this process's, all of it). */
async function measured(through, ms) {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const { requests, errors } = await drive(through, ms)
  const elapsed = (performance.now() - t0) / 1_000
  const cpu = process.cpuUsage(cpu0)
  return { rps: requests / elapsed, cpuUsPerReq: (cpu.user + cpu.system) / requests, requests, errors }
}

// 3 s, as the proxy cases (V8 settles the hot path); shorter only for a short single run.
const warmMs = mode === 'pair' ? 3_000 : Math.min(3_000, Number(seconds) * 600)
if (mode === 'pair') {
  const sides = { pool: side('pool'), switchyard: side('switchyard') }
  await drive(sides.pool, warmMs)
  await drive(sides.switchyard, warmMs)
  const slices = []
  let errors = 0
  for (let r = 0; r < Number(rounds); r++) {
    const slice = {}
    for (const kind of r % 2 === 0 ? ['pool', 'switchyard'] : ['switchyard', 'pool']) {
      const { rps, cpuUsPerReq, errors: e } = await measured(sides[kind], Number(seconds) * 1_000)
      slice[kind] = { rps, cpuUsPerReq }
      errors += e
    }
    slices.push(slice)
  }
  await Promise.all([sides.pool.close(), sides.switchyard.close()])
  console.log(JSON.stringify({ slices, errors }))
} else {
  const through = side(mode === 'switchyard' ? 'switchyard' : 'pool')
  await drive(through, warmMs)
  const result = await measured(through, Number(seconds) * 1_000)
  await through.close()
  console.log(JSON.stringify(result))
}
