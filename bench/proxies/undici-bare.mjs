// The floor: a bare undici Pool reverse proxy, round robin, about 30 lines, as the issue
// describes it. No retries, no health, no stats, no header hygiene beyond what undici demands.
import http from 'node:http'
import { pipeline } from 'node:stream'
import { Pool } from 'undici'

const pools = process.env.UPSTREAMS.split(',').map((u) => new Pool(u, { connections: 1024 }))
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'proxy-connection', 'expect'])
let next = 0

http
  .createServer((req, res) => {
    const pool = pools[next++ % pools.length]
    const headers = {}
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v
    const body = req.headers['content-length'] || req.headers['transfer-encoding'] ? req : null
    pool.request({ method: req.method, path: req.url, headers, body }, (err, data) => {
      if (err) {
        res.statusCode = 502
        res.end()
        return
      }
      const out = {}
      for (const [k, v] of Object.entries(data.headers)) if (!HOP.has(k)) out[k] = v
      res.writeHead(data.statusCode, out)
      pipeline(data.body, res, () => {})
    })
  })
  .listen(Number(process.env.PORT), '127.0.0.1')
