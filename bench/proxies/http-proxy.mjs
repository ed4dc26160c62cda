// http-proxy with a keep-alive agent, round robin over the upstreams.
import http from 'node:http'
import httpProxy from 'http-proxy'

const targets = process.env.UPSTREAMS.split(',')
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 })
const proxy = httpProxy.createProxyServer({ agent })
proxy.on('error', (_err, _req, res) => {
  res.statusCode = 502
  res.end()
})
let next = 0
http
  .createServer((req, res) => proxy.web(req, res, { target: targets[next++ % targets.length] }))
  .listen(Number(process.env.PORT), '127.0.0.1')
