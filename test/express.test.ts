import { createBalancer } from '@switchyard/core'
import express from 'express'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { fakeUpstream } from '@switchyard/testing'
import { listenApp } from './helpers/app.js'

describe('Express', () => {
  it('mounts lb.handler as middleware beside the app’s own routes', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const lb = createBalancer({ upstreams: [a.url, b.url] })
    const app = express()
    app.get('/healthz', (_req, res) => {
      res.send('ok')
    })
    app.use('/api', lb.handler)
    const base = await listenApp(app, lb)
    const health = await request(`${base}/healthz`)
    expect(await health.body.text()).toBe('ok')
    const names = new Set<string>()
    for (let i = 0; i < 4; i++) {
      const res = await request(`${base}/api/users?id=3`)
      const body = (await res.body.json()) as { name: string; url: string }
      expect(body.url).toBe('/users?id=3')
      names.add(body.name)
    }
    expect(names).toEqual(new Set(['a', 'b']))
    expect(a.hits + b.hits).toBe(4)
  })

  it('relays every Set-Cookie when Express set headers before the handler (X-Powered-By)', async () => {
    const up = await fakeUpstream({
      handler: (_req, res) => {
        res.setHeader('set-cookie', ['session=abc; HttpOnly', 'theme=dark', 'lang=en'])
        res.setHeader('vary', 'Accept')
        res.end('ok')
      },
    })
    const lb = createBalancer({ upstreams: [up.url] })
    const app = express() // sends X-Powered-By: Express before lb.handler runs
    app.use(lb.handler)
    const res = await request(`${await listenApp(app, lb)}/`)
    await res.body.dump()
    expect(res.headers['set-cookie']).toEqual(['session=abc; HttpOnly', 'theme=dark', 'lang=en'])
    expect(res.headers['x-powered-by']).toBe('Express')
    expect(res.headers.vary).toBe('Accept')
  })
})
