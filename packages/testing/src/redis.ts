import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import { closeWithTest } from './cleanup.js'

/** A free loopback port: bound on port 0, read, released. */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface RedisServer {
  url: string
  port: number
  /** Stops the server (a test of Redis going away). */
  stop(): Promise<void>
  /** Freezes the process (SIGSTOP): connections stay open and nothing is answered; `resume()` thaws it. */
  pause(): void
  resume(): void
}

/**
 * Starts a `redis-server` (Debian's package, or any on PATH) on a free loopback port, without
 * persistence; stopped with the test that made it (see `closeFixturesWith`), or by `stop()`. For
 * tests of stores and limits shared through Redis.
 */
export async function redisServer(): Promise<RedisServer> {
  const port = await freePort()
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${log}`)), 10_000)
    child.stdout!.on('data', (d: Buffer) => {
      log += d
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(new Error(`redis-server could not be started (${err.message}): install it (Debian: apt-get install redis-server)`, { cause: err }))
    })
  })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await once(child, 'exit')
  }
  closeWithTest(stop)
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  }
}
