import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The seed's Flask app in Node: `GET /` answers `{"message":"Hello, World!"}`. The demo adds the
 * backend's name, so alternation is visible with plain `curl`.
 */
export async function startHelloBackend(name: string, port = 0, host = '127.0.0.1'): Promise<http.Server> {
  const body = JSON.stringify({ message: 'Hello, World!', backend: name })
  const server = http.createServer((req, res) => {
    req.resume()
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('ok')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  server.keepAliveTimeout = 65_000 // longer than the balancer's idle pool sockets, so they never race a close
  server.listen(port, host)
  await once(server, 'listening')
  return server
}

export function serverUrl(server: http.Server): string {
  const { port } = server.address() as AddressInfo
  return `http://127.0.0.1:${port}`
}
