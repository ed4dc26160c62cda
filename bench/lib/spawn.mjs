// Starting and stopping the processes a benchmark measures: pinned to cores with taskset, their
// output kept for the error that names why one did not start.
import { spawn } from 'node:child_process'
import net from 'node:net'

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Spawns `cmd` pinned to `cores` (a core or a taskset list such as `0-1`; unpinned when undefined); `child.log()` is its output so far. */
export function pinned(cores, cmd, args, env = {}) {
  const full = cores === undefined ? [cmd, ...args] : ['taskset', '-c', String(cores), cmd, ...args]
  const child = spawn(full[0], full.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  child.stdout.on('data', (d) => {
    log += d
  })
  child.stderr.on('data', (d) => {
    log += d
  })
  child.log = () => log
  child.startedAt = performance.now() // for placing its --trace-gc lines in time (gc.mjs)
  return child
}

export async function freePort() {
  const s = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => s.once('listening', r))
  const { port } = s.address()
  await new Promise((r) => s.close(r))
  return port
}

export async function waitForHttp(port, child, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`exited early:\n${child.log()}`)
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`)
      await res.arrayBuffer()
      if (res.status < 500) return
    } catch {}
    await sleep(100)
  }
  throw new Error(`not listening on ${port} after ${timeoutMs} ms:\n${child.log()}`)
}

export async function stop(child) {
  if (!child || child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), 3_000)
  await exited
  clearTimeout(t)
}
