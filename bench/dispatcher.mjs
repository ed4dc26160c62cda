// The dispatcher path, in one pinned process: `undici.request` with 64 callers for N seconds,
// through lb.dispatcher or through bare undici Pools (round robin), to the same upstreams; with
// `h2`, HTTP/2 upstreams (h2c), the pools made as the balancer makes them (100 streams a connection).
// Prints one JSON line: { rps, cpuUsPerReq, requests, errors }.
import { createBalancer } from '@switchyard/core'
import { buildConnector, Pool, request } from 'undici'

const [mode, upstreamList, seconds = '5', concurrency = '64', protocol = 'h1'] = process.argv.slice(2)
const upstreams = upstreamList.split(',')
const h2 = protocol === 'h2'
let dispatch
let close
if (mode === 'switchyard') {
  const lb = createBalancer({ upstreams, http2: h2 })
  dispatch = () => lb.dispatcher
  close = () => lb.close()
} else {
  const options = h2 ? { allowH2: true, pipelining: 100, connect: buildConnector({ allowH2: true, useH2c: true }) } : {}
  const pools = upstreams.map((u) => new Pool(u, options))
  let next = 0
  dispatch = () => pools[next++ % pools.length]
  close = () => Promise.all(pools.map((p) => p.close()))
}

async function drive(ms) {
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

await drive(Math.min(3_000, Number(seconds) * 600)) // warm-up: 3 s, as the proxy cases (V8 settles the hot path)
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const { requests, errors } = await drive(Number(seconds) * 1_000)
const elapsed = (performance.now() - t0) / 1_000
const cpu = process.cpuUsage(cpu0)
await close()
console.log(JSON.stringify({ rps: requests / elapsed, cpuUsPerReq: (cpu.user + cpu.system) / requests, requests, errors }))
