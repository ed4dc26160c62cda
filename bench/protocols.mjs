// Protocol cases for `pnpm bench`, one role per process (run.mjs pins each to its core):
//
//   node protocols.mjs ws-backend                      a ws echo server; prints {"port"}
//   node protocols.mjs ws-switchyard <port> <backend>  lb.handler + lb.upgrade (a TCP tunnel after the handshake)
//   node protocols.mjs ws-relay <port> <backend>       the bare relay: a ws server opening a ws client per connection
//   node protocols.mjs ws-load <url> <conns> <s> <w>   ping-pong on <conns> sockets for <s> s after <w> s; prints {"messages","seconds"}
//   node protocols.mjs h2-backend                      two h2c servers answering tiny JSON; prints {"ports"}
// (the HTTP/2 client side is dispatcher.mjs with `h2`.)
import http from 'node:http'
import http2 from 'node:http2'
import { createBalancer } from '@switchyard/core'
import { WebSocket, WebSocketServer } from 'ws'

const [role, ...args] = process.argv.slice(2)
const listening = (server, port = 0) => new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server.address().port)))

if (role === 'ws-backend') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })))
  wss.on('listening', () => console.log(JSON.stringify({ port: wss.address().port })))
} else if (role === 'ws-switchyard') {
  const [port, backend] = args
  const lb = createBalancer({ upstreams: [backend] })
  const server = http.createServer(lb.handler)
  server.on('upgrade', lb.upgrade)
  await listening(server, Number(port))
  console.log('ready')
} else if (role === 'ws-relay') {
  // The leanest relay with `ws` alone: each client socket gets an upstream socket; messages are
  // forwarded as they come (queued until the upstream is open), closes go both ways.
  const [port, backend] = args
  const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port), perMessageDeflate: false })
  wss.on('connection', (client) => {
    const upstream = new WebSocket(backend.replace(/^http/, 'ws'), { perMessageDeflate: false })
    const queue = []
    client.on('message', (data, binary) => (upstream.readyState === WebSocket.OPEN ? upstream.send(data, { binary }) : queue.push([data, binary])))
    upstream.on('open', () => {
      for (const [data, binary] of queue.splice(0)) upstream.send(data, { binary })
    })
    upstream.on('message', (data, binary) => client.send(data, { binary }))
    client.on('close', () => upstream.close())
    upstream.on('close', () => client.close())
    client.on('error', () => upstream.terminate())
    upstream.on('error', () => client.terminate())
  })
  wss.on('listening', () => console.log('ready'))
} else if (role === 'ws-load') {
  const [url, conns, seconds, warmup] = args
  const payload = Buffer.alloc(64, 'x')
  let counting = false
  let messages = 0
  let stop = false
  const sockets = await Promise.all(
    Array.from({ length: Number(conns) }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(url.replace(/^http/, 'ws'), { perMessageDeflate: false })
      ws.once('open', () => resolve(ws))
      ws.once('error', reject)
    })),
  )
  for (const ws of sockets) {
    ws.on('message', () => {
      if (counting) messages++
      if (!stop) ws.send(payload)
    })
    ws.send(payload)
  }
  await new Promise((r) => setTimeout(r, Number(warmup) * 1_000))
  counting = true
  console.log('counting')
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, Number(seconds) * 1_000))
  counting = false
  const elapsed = (performance.now() - t0) / 1_000
  stop = true
  for (const ws of sockets) ws.terminate()
  console.log(JSON.stringify({ messages, seconds: elapsed }))
} else if (role === 'h2-backend') {
  const body = JSON.stringify({ ok: true, name: 'h2' })
  const ports = []
  for (let i = 0; i < 2; i++) {
    const server = http2.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
    ports.push(await listening(server))
  }
  console.log(JSON.stringify({ ports }))
} else {
  console.error(`unknown role ${role}`)
  process.exit(2)
}
