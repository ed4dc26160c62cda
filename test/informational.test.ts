import net from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream, serveBalancer } from '@switchyard/testing'

/** Writes `head`, then, once the proxy answers 100 Continue, `body`; returns everything read until the socket ends. */
async function exchange(url: string, head: string, body?: string): Promise<string> {
  const { port } = new URL(url)
  const socket = net.connect(Number(port), '127.0.0.1')
  onTestFinished(() => void socket.destroy())
  socket.write(head)
  let text = ''
  let sentBody = false
  for await (const chunk of socket) {
    text += chunk
    if (body !== undefined && !sentBody && text.includes('100 Continue\r\n\r\n')) {
      sentBody = true
      socket.write(body)
    }
  }
  return text
}

describe('1xx responses', () => {
  it('Expect: 100-continue: the client hears 100 Continue before it sends the body, as from nginx; the upstream gets the body, not the Expect', async () => {
    const up = await fakeUpstream()
    const { url } = await serveBalancer({ upstreams: [up.url] })
    const text = await exchange(
      url,
      'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
      'hello',
    )
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /)
    expect(up.requests[0]!.body.toString()).toBe('hello')
    expect(up.requests[0]!.headers.expect).toBeUndefined()
  })

  it('relays 103 Early Hints (its Link headers) before the final answer', async () => {
    const up = await fakeUpstream({
      handler: (_req, res) => {
        res.writeEarlyHints({ link: ['</app.css>; rel=preload; as=style', '</app.js>; rel=preload; as=script'] })
        setTimeout(() => res.end('page'), 20)
      },
    })
    const { url } = await serveBalancer({ upstreams: [up.url] })
    const text = await exchange(url, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    expect(text, text).toMatch(/^HTTP\/1\.1 103 Early Hints\r\n/)
    expect(text).toContain('</app.css>; rel=preload; as=style')
    expect(text).toContain('</app.js>; rel=preload; as=script')
    expect(text.indexOf('HTTP/1.1 200')).toBeGreaterThan(text.indexOf('103 Early Hints'))
    expect(text.endsWith('page')).toBe(true)
  })
})
