// The fair floor: the leanest undici reverse proxy, round robin, `pool.stream()` writing the
// upstream's answer straight into `res` (no `Readable` per response, no `pipeline`). No retries,
// no health, no stats; hop-by-hop headers dropped both ways, as any proxy must.
import http from 'node:http'
import { Pool } from 'undici'

const pools = process.env.UPSTREAMS.split(',').map((u) => new Pool(u, { connections: 1024 }))
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'proxy-connection', 'expect'])
let next = 0

http
  .createServer((req, res) => {
    const headers = {}
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v
    const body = req.headers['content-length'] || req.headers['transfer-encoding'] ? req : null
    pools[next++ % pools.length].stream(
      { method: req.method, path: req.url, headers, body },
      ({ statusCode, headers: upstream }) => {
        const out = {}
        for (const [k, v] of Object.entries(upstream)) if (!HOP.has(k)) out[k] = v
        res.writeHead(statusCode, out)
        return res
      },
      (err) => {
        if (err && !res.headersSent) {
          res.statusCode = 502
          res.end()
        } else if (err) res.destroy()
      },
    )
  })
  .listen(Number(process.env.PORT), '127.0.0.1')
process.on('SIGTERM', () => process.exit(0)) // exit cleanly, so `--cpu-prof` writes its profile
