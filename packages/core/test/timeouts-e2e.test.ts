import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { Worker } from 'node:worker_threads'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream, get, inOrder, serveBalancer } from '@switchyard/testing'

/**
 * A loopback port whose listener never accepts: its server runs in a worker thread that blocks
 * its own event loop right after listening (backlog 1), and the kernel's accept queue is then
 * filled, so further connection attempts get no answer to their SYN — what a connect timeout is
 * for (an upstream host that is up but overwhelmed, or a firewall that drops).
 */
async function unansweredPort(): Promise<number> {
  const lock = new Int32Array(new SharedArrayBuffer(4))
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const server = require('node:net').createServer()
     server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port)
       Atomics.wait(workerData, 0, 0) // the loop never turns: nothing is accepted
     })`,
    { eval: true, workerData: lock },
  )
  const [port] = (await once(worker, 'message')) as [number]
  const fillers: Socket[] = []
  onTestFinished(async () => {
    for (const s of fillers) s.destroy()
    Atomics.store(lock, 0, 1)
    Atomics.notify(lock, 0)
    await worker.terminate()
  })
  // Fill the accept queue: connections complete (the kernel answers) until it is full.
  for (let i = 0; i < 8; i++) {
    const s = connect(port, '127.0.0.1')
    s.on('error', () => {})
    fillers.push(s)
    const connected = await Promise.race([once(s, 'connect').then(() => true), new Promise((r) => setTimeout(() => r(false), 200))])
    if (!connected) return port // this one hangs: so will the next
  }
  throw new Error('the accept queue never filled')
}

describe('timeouts, end to end', () => {
  it('connect: an upstream that accepts nothing in time fails at timeouts.connect, and the request goes to the other (it never reached the first)', async () => {
    const stuck = `http://127.0.0.1:${await unansweredPort()}`
    const ok = await fakeUpstream({ name: 'ok' })
    const { lb, url } = await serveBalancer({ upstreams: [stuck, ok.url], strategy: inOrder(), timeouts: { connect: 300 } })
    const failures: string[] = []
    lb.on('request:retry', (e) => failures.push(`${e.error.code} ${(e.error.cause as { code?: string } | undefined)?.code}`))
    const t0 = performance.now()
    const res = await fetch(`${url}/order`, { method: 'POST', body: 'one order' }) // a POST: safe to send again, it was never sent
    expect(res.status).toBe(200)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290)
    expect(ok.requests.map((r) => r.body.toString())).toEqual(['one order'])
    expect(failures).toEqual(['SWY_ERR_UPSTREAM_TIMEOUT UND_ERR_CONNECT_TIMEOUT'])
    expect(lb.upstreams[0]!.failures).toBe(1) // counted against the upstream
  })

  it('connect: with no other upstream the client gets 504 after timeouts.connect', async () => {
    const stuck = `http://127.0.0.1:${await unansweredPort()}`
    const { url } = await serveBalancer({ upstreams: [stuck], timeouts: { connect: 300 }, retry: false })
    const t0 = performance.now()
    const res = await get(url)
    const elapsed = performance.now() - t0
    expect(res.status).toBe(504)
    expect(res.json()).toMatchObject({ code: 'SWY_ERR_UPSTREAM_TIMEOUT' })
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(3_000)
  })

  it('body: an upstream that stops mid-body is cut at timeouts.body; the client sees the cut, not a complete answer', async () => {
    const stall = await fakeUpstream({ name: 'stall' })
    stall.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' })
      res.write('first half;') // then nothing more, the connection held open
    }
    const { lb, url } = await serveBalancer({ upstreams: [stall.url], timeouts: { body: 300 } })
    const errors: string[] = []
    lb.on('request:error', (e) => errors.push(e.error.code))
    const t0 = performance.now()
    const res = await fetch(url)
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    const { value } = await reader.read()
    expect(Buffer.from(value!).toString()).toBe('first half;')
    await expect(reader.read()).rejects.toThrow() // cut: the 100 bytes promised never come
    const elapsed = performance.now() - t0
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(3_000)
    await expect.poll(() => errors).toEqual(['SWY_ERR_UPSTREAM_TIMEOUT'])
    expect(lb.upstreams[0]!.failures).toBe(1)
  })
})
