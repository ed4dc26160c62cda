import http from 'node:http'
import { listenShared, reusePortUnavailable } from '@switchyard/core'
import { Agent, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream } from '@switchyard/testing'
import { createBalancer } from '@switchyard/core'

describe('listenShared: several reusePort sockets on one port', () => {
  it('knows where reusePort exists: Node 22.12+ (23.1+ on 23) on Linux or FreeBSD', () => {
    expect(reusePortUnavailable('20.19.0', 'linux')).toMatch(/Node 22\.12 or later \(this is Node 20\.19\.0\)/)
    expect(reusePortUnavailable('22.11.0', 'linux')).toMatch(/Node 22\.12/)
    expect(reusePortUnavailable('22.12.0', 'linux')).toBeUndefined()
    expect(reusePortUnavailable('23.0.0', 'linux')).toMatch(/Node 22\.12/)
    expect(reusePortUnavailable('23.1.0', 'linux')).toBeUndefined()
    expect(reusePortUnavailable('24.11.1', 'freebsd')).toBeUndefined()
    expect(reusePortUnavailable('24.11.1', 'darwin')).toMatch(/only on Linux and FreeBSD \(this is darwin\)/)
  })

  it('opens the sockets it says on one port, each serving the balancer, and the kernel spreads new connections over them; without reusePort, one socket and why', async () => {
    const up = await fakeUpstream({ name: 'up' })
    const lb = createBalancer({ upstreams: [up.url] })
    onTestFinished(() => lb.close())
    const accepted: number[] = []
    const { servers, port, fallback, close } = await listenShared(
      () => {
        const i = accepted.push(0) - 1
        return http.createServer(lb.handler).on('connection', () => accepted[i]!++)
      },
      { port: 0, host: '127.0.0.1', listeners: 4 },
    )
    onTestFinished(close)
    const unavailable = reusePortUnavailable()
    if (unavailable === undefined) {
      expect(servers).toHaveLength(4)
      expect(fallback).toBeUndefined()
    } else {
      expect(servers).toHaveLength(1)
      expect(fallback).toBe(unavailable)
    }
    for (const s of servers) expect((s.address() as { port: number }).port).toBe(port)
    // 40 connections from 40 source ports: the kernel's hash puts them on more than one socket.
    const agents = Array.from({ length: 40 }, () => new Agent({ connections: 1 }))
    onTestFinished(async () => {
      await Promise.all(agents.map((a) => a.close()))
    })
    const answers = await Promise.all(agents.map(async (dispatcher) => (await request(`http://127.0.0.1:${port}/`, { dispatcher })).body.json()))
    expect(answers.every((a) => (a as { name: string }).name === 'up')).toBe(true)
    expect(accepted.reduce((a, b) => a + b, 0)).toBe(40)
    if (servers.length > 1) expect(accepted.filter((n) => n > 0).length).toBeGreaterThan(1)
  })

  it('opens one socket when asked for one, and refuses a count that is not one, with a typed error', async () => {
    const one = await listenShared(() => http.createServer(), { port: 0, host: '127.0.0.1', listeners: 1 })
    onTestFinished(one.close)
    expect(one.servers).toHaveLength(1)
    expect(one.fallback).toBeUndefined()
    for (const listeners of [0, 1.5, 2000, 'many']) {
      await expect(listenShared(() => http.createServer(), { port: 0, listeners: listeners as number })).rejects.toMatchObject({ code: 'SWY_ERR_INVALID_OPTION', field: 'listeners' })
    }
  })

  it('gives back the listen error (a port in use without reusePort) and closes what it opened', async () => {
    const taken = http.createServer().listen(0, '127.0.0.1')
    await new Promise((resolve) => taken.once('listening', resolve))
    onTestFinished(() => new Promise<void>((resolve) => taken.close(() => resolve())))
    const made: http.Server[] = []
    const port = (taken.address() as { port: number }).port
    await expect(listenShared(() => made[made.push(http.createServer()) - 1]!, { port, host: '127.0.0.1', listeners: 1 })).rejects.toMatchObject({ code: 'EADDRINUSE' })
    expect(made.every((s) => !s.listening)).toBe(true)
  })
})
