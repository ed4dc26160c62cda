// Loopback backends for the benchmarks, in one process: `node backends.mjs fast fast slow:20`
// starts one server per argument (name[:delay ms]) on 127.0.0.1 port 0 and prints their ports as
// one JSON line. GET / answers the seed's hello-world JSON, GET /64k a 64 KiB body, GET /cached the
// hello-world JSON that caches may keep for an hour, GET /text 16 KiB of JSON that compresses (for
// the compression row), POST counts the bytes it received. A control server (its port is printed
// too) answers GET /hits with the hit count per backend and POST /reset zeroes them. Where nginx is
// installed, the plain backends are nginx's instead (nginx.mjs, nginxBackendArgs): these serve the
// slow-backend pair, whose hits the balancing rows count.
import http from 'node:http'
import { BIG as big, CACHEABLE, SMALL as small, TEXT as text } from './lib/bodies.mjs'

const hits = []

function send(res, body, headers) {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...headers })
  res.end(body)
}

function handler(delay, i) {
  hits[i] = 0
  return (req, res) => {
    hits[i]++
    if (req.method === 'POST' || req.method === 'PUT') {
      let n = 0
      req.on('data', (c) => {
        n += c.length
      })
      req.on('end', () => send(res, Buffer.from(String(n))))
      return
    }
    req.resume()
    const body = req.url === '/64k' ? big : req.url === '/text' ? text : small
    const headers = req.url === '/cached' ? CACHEABLE : undefined
    if (delay > 0) setTimeout(send, delay, res, body, headers)
    else send(res, body, headers)
  }
}

const ports = await Promise.all(
  process.argv.slice(2).map(
    (spec, i) =>
      new Promise((resolve) => {
        const delay = Number(spec.split(':')[1] ?? 0)
        const server = http.createServer(handler(delay, i))
        server.keepAliveTimeout = 120_000
        server.headersTimeout = 121_000
        server.listen(0, '127.0.0.1', () => resolve(server.address().port))
      }),
  ),
)
const control = http.createServer((req, res) => {
  if (req.method === 'POST') hits.fill(0)
  res.end(JSON.stringify(hits))
})
await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve))
console.log(JSON.stringify({ ports, control: control.address().port }))
