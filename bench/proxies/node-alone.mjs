// Not a proxy: a Node HTTP server answering what the backends answer (the seed's tiny JSON, 64 KiB
// on /64k, the byte count of an upload) by itself. Its CPU per request is the cost of Node's HTTP
// server alone, the part of every Node proxy's cost that no proxy code can remove.
import http from 'node:http'

const small = Buffer.from(JSON.stringify({ message: 'Hello, World!' }))
const big = Buffer.alloc(64 * 1024, 'x')
const send = (res, body) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
  res.end(body)
}

http
  .createServer((req, res) => {
    if (req.method === 'POST' || req.method === 'PUT') {
      let n = 0
      req.on('data', (c) => {
        n += c.length
      })
      req.on('end', () => send(res, Buffer.from(String(n))))
      return
    }
    req.resume()
    send(res, req.url === '/64k' ? big : small)
  })
  .listen(Number(process.env.PORT), '127.0.0.1')

process.on('SIGTERM', () => process.exit(0)) // exit cleanly, so `--cpu-prof` writes its profile
