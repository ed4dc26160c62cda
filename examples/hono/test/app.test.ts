import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { request } from 'undici'
import { expect, it, onTestFinished } from 'vitest'
import { makeApp } from '../src/app.js'
import { fakeUpstream } from '@switchyard/testing'

it('examples/hono: proxies /api/* through lb.fetch on @hono/node-server, streaming both ways', async () => {
  const up = await fakeUpstream({ name: 'backend' })
  const { app, lb } = makeApp([up.url])
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
  await once(server, 'listening')
  onTestFinished(async () => {
    await new Promise<void>((r) => server.close(() => r()))
    await lb.close()
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const body = 'x'.repeat(256 * 1024)
  const res = await request(`${base}/api/upload`, { method: 'POST', body })
  expect(((await res.body.json()) as { url: string }).url).toBe('/api/upload')
  expect(up.requests[0]!.bodyLength).toBe(body.length)
  expect(up.requests[0]!.headers['x-forwarded-for']).toBe('127.0.0.1')
  expect(await (await request(`${base}/health`)).body.json()).toEqual({ ok: true })
})
