import { request } from 'undici'
import { expect, it, onTestFinished } from 'vitest'
import { makeApp } from '../src/app.js'
import { fakeUpstream } from '@switchyard/testing'

it('examples/fastify: the token hook runs before the proxy; /api reaches the upstream without the prefix', async () => {
  const up = await fakeUpstream({ name: 'backend' })
  const app = await makeApp([up.url], 'secret')
  await app.listen({ port: 0, host: '127.0.0.1' })
  onTestFinished(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  expect((await request(`${base}/api/orders`)).statusCode).toBe(401)
  const res = await request(`${base}/api/orders`, { headers: { authorization: 'Bearer secret' } })
  expect(((await res.body.json()) as { url: string }).url).toBe('/orders')
  expect(await (await request(`${base}/health`)).body.json()).toEqual({ ok: true, upstreams: 1 })
  expect(up.hits).toBe(1)
})
