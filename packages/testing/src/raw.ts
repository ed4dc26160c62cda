import { once } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import { closeWithTest } from './cleanup.js'

/**
 * Sends raw bytes on a fresh connection and resolves with everything received until the peer
 * closes (or `waitMs` passes), plus how the connection ended: `'end'` (a clean close), `'error'`
 * (a reset), or `'timeout'`. For requests and responses a well-behaved client refuses to make.
 */
export async function rawExchange(
  url: string,
  bytes: string | Buffer,
  waitMs = 5_000,
): Promise<{ text: string; ended: 'end' | 'error' | 'timeout' }> {
  const { port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(bytes))
    let text = ''
    let done = false
    const finish = (ended: 'end' | 'error' | 'timeout') => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ text, ended })
    }
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('end', () => finish('end'))
    socket.on('error', () => finish('error'))
    socket.on('close', () => finish('end'))
    const timer = setTimeout(() => finish('timeout'), waitMs)
  })
}

/**
 * Sends raw bytes on a fresh connection and resolves with the response head (up to the blank
 * line), without waiting for the connection to close: for a request that keeps it alive.
 */
export async function rawHead(url: string, bytes: string): Promise<string> {
  const { port } = new URL(url)
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(bytes))
    let data = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      data += chunk
      const end = data.indexOf('\r\n\r\n')
      if (end !== -1) {
        socket.destroy()
        resolve(data.slice(0, end))
      }
    })
    socket.on('error', reject)
    socket.setTimeout(5_000, () => {
      socket.destroy()
      reject(new Error('raw request timed out'))
    })
  })
}

/** The status code of a raw HTTP/1.1 response text. */
export function statusOf(text: string): number {
  return Number(text.slice(9, 12))
}

/**
 * A raw TCP upstream on 127.0.0.1:0 for responses `http` would never send. `onRequest` gets the
 * socket and the request head each time a request head has arrived (keep-alive connections give
 * several), and how many requests the connection carried before it. Request bodies are not
 * parsed: use it for requests without one. Closed after the test.
 */
export async function rawUpstream(
  onRequest: (socket: net.Socket, head: string, previous: number) => void,
): Promise<{ url: string; heads: string[]; connections: number }> {
  const state = { url: '', heads: [] as string[], connections: 0 }
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    state.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffered = ''
    let served = 0
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      buffered += chunk
      let end = buffered.indexOf('\r\n\r\n')
      while (end !== -1) {
        const head = buffered.slice(0, end)
        buffered = buffered.slice(end + 4)
        state.heads.push(head)
        onRequest(socket, head, served++)
        end = buffered.indexOf('\r\n\r\n')
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  closeWithTest(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return state
}
