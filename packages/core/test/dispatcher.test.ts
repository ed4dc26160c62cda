import { Agent, fetch, interceptors, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createBalancer } from '@switchyard/core'
import { deadPort, fakeUpstream, inOrder } from '@switchyard/testing'

function balancer(options: Parameters<typeof createBalancer>[0]) {
  const lb = createBalancer(options)
  onTestFinished(() => lb.close({ timeout: 1_000 }))
  return lb
}

describe('lb.dispatcher', () => {
  it('balances undici.request over the upstreams, replacing the origin', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const lb = balancer({ upstreams: [a.url, b.url], strategy: inOrder() })
    const names: string[] = []
    for (let i = 0; i < 4; i++) {
      const res = await request('http://any.invalid/users?page=2', { dispatcher: lb.dispatcher })
      const body = (await res.body.json()) as { name: string; url: string }
      expect(body.url).toBe('/users?page=2')
      names.push(body.name)
    }
    expect(names).toEqual(['a', 'b', 'a', 'b'])
  })

  it('balances fetch, with request bodies', async () => {
    const a = await fakeUpstream({ handler: (_req, res, self) => res.end(`a:${self.requests.at(-1)!.body}`) })
    const b = await fakeUpstream({ handler: (_req, res, self) => res.end(`b:${self.requests.at(-1)!.body}`) })
    const lb = balancer({ upstreams: [a.url, b.url], strategy: inOrder() })
    const texts = []
    for (let i = 0; i < 2; i++) {
      const res = await fetch('http://service/orders', { method: 'POST', body: `n=${i}`, dispatcher: lb.dispatcher })
      texts.push(await res.text())
    }
    expect(texts).toEqual(['a:n=0', 'b:n=1'])
  })

  it('balances Node’s global fetch too (its bundled undici calls the dispatcher)', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const lb = balancer({ upstreams: [a.url, b.url], strategy: inOrder() })
    const names = []
    for (let i = 0; i < 2; i++) {
      const res = await globalThis.fetch('http://service/x', { dispatcher: lb.dispatcher } as unknown as RequestInit)
      names.push(((await res.json()) as { name: string }).name)
    }
    expect(names).toEqual(['a', 'b'])
  })

  it('retries a refused connection on another upstream', async () => {
    const ok = await fakeUpstream({ name: 'ok' })
    const lb = balancer({
      upstreams: [`http://127.0.0.1:${await deadPort()}`, ok.url],
      strategy: inOrder(),
    })
    const res = await request('http://x/', { dispatcher: lb.dispatcher })
    expect(res.statusCode).toBe(200)
    await res.body.text()
    expect(lb.stats().retries).toBe(1)
  })

  it('rejects with a SwitchyardError code when nothing can serve', async () => {
    const lb = balancer({ upstreams: [`http://127.0.0.1:${await deadPort()}`] })
    await expect(request('http://x/', { dispatcher: lb.dispatcher })).rejects.toMatchObject({ code: 'SWY_ERR_UPSTREAM' })
    await expect(fetch('http://x/', { dispatcher: lb.dispatcher })).rejects.toThrow(TypeError)
  })

  it('lets the caller abort while the upstream is slow', async () => {
    const slow = await fakeUpstream({ answer: 'hang' })
    const lb = balancer({ upstreams: [slow.url] })
    const ac = new AbortController()
    const pending = request('http://x/', { dispatcher: lb.dispatcher, signal: ac.signal })
    await expect.poll(() => slow.hits).toBe(1)
    ac.abort()
    await expect(pending).rejects.toThrow()
    await expect.poll(() => slow.aborted).toBe(1)
    await expect.poll(() => lb.stats().active).toBe(0)
  })

  it('works under composed interceptors (handlers on the newer undici API)', async () => {
    const up = await fakeUpstream({ name: 'composed' })
    const lb = balancer({ upstreams: [up.url] })
    const dispatcher = lb.dispatcher.compose(interceptors.dump({ maxSize: 1024 }))
    const res = await request('http://x/', { dispatcher })
    expect(res.statusCode).toBe(200)
    await res.body.text()
    expect(up.hits).toBe(1)
  })

  it('is an undici Dispatcher usable where an Agent is', async () => {
    const { Dispatcher } = await import('undici')
    const lb = balancer({ upstreams: ['http://127.0.0.1:1'] })
    expect(lb.dispatcher).toBeInstanceOf(Dispatcher)
    expect(new Agent()).toBeInstanceOf(Dispatcher)
  })
})
