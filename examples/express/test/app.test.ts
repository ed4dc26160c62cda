import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { expect, it, onTestFinished } from 'vitest'
import { makeApp } from '../src/app.js'
import { deadPort, fakeUpstream } from '@switchyard/testing'

it('examples/express: proxies /api without the mount path, keeps its own routes, and handles the balancer’s errors', async () => {
  const up = await fakeUpstream({ name: 'backend' })
  const { app, lb } = makeApp([up.url])
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
    await lb.close()
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const res = await request(`${base}/api/users?x=1`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } })
  expect(((await res.body.json()) as { url: string }).url).toBe('/users?x=1')
  expect(up.requests[0]!.body.toString()).toBe('{"a":1}')
  const local = await request(`${base}/local/echo`, { method: 'POST', body: '{"b":2}', headers: { 'content-type': 'application/json' } })
  expect(await local.body.json()).toEqual({ echoed: { b: 2 } })

  const { app: broken, lb: lb2 } = makeApp([`http://127.0.0.1:${await deadPort()}`])
  const s2 = broken.listen(0, '127.0.0.1')
  await once(s2, 'listening')
  onTestFinished(async () => {
    await new Promise<void>((r) => s2.close(() => r()))
    await lb2.close()
  })
  const down = await request(`http://127.0.0.1:${(s2.address() as AddressInfo).port}/api/x`)
  expect(down.statusCode).toBe(502)
  expect(await down.body.json()).toEqual({ error: 'upstream unavailable', code: 'SWY_ERR_UPSTREAM' })
})
