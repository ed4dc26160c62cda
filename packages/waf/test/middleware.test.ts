import http2 from 'node:http2'
import { Readable } from 'node:stream'
import { createBalancer } from '@switchyard/core'
import { fakeUpstream, get, loopbackServer, rawExchange, statusOf } from '@switchyard/testing'
import { type WafReport, waf } from '@switchyard/waf'
import { describe, expect, it } from 'vitest'
import { firewalled } from './helpers/firewall.js'

const RULES = `
SecRule ARGS "@rx (?i)<script" "id:1001,phase:2,deny,t:none,t:urlDecodeUni,msg:'script tag'"
SecRule REQUEST_HEADERS:User-Agent "@pm sqlmap" "id:1002,phase:1,deny,t:lowercase,msg:'scanner'"
`

/** The WAF in front of a real balancer over a fake upstream: what gets through, byte for byte. */
async function inFront(options: Parameters<typeof waf>[0]) {
  const upstream = await fakeUpstream({ name: 'app' })
  const lb = createBalancer({ upstreams: [upstream.url] })
  const firewall = waf(options)
  const served = await loopbackServer((req, res) =>
    firewall(req, res, (err) => {
      if (err === undefined) lb.handler(req, res)
      else {
        res.statusCode = 500
        res.end()
      }
    }),
  )
  return { ...served, upstream, lb }
}

describe('waf() in front of the balancer', () => {
  it('a clean body reaches the upstream whole (read once, forwarded as it came); an attack in it does not', async () => {
    const { url, upstream, lb } = await inFront({ rules: RULES })
    const body = JSON.stringify({ title: 'Hello', text: 'x'.repeat(50_000) })
    const ok = await get(`${url}/api/posts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect(ok.status).toBe(200)
    expect(upstream.requests[0]!.body.toString()).toBe(body)
    // chunked (no Content-Length): the same
    const chunked = await get(`${url}/api/posts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(body.slice(0, 100)), Buffer.from(body.slice(100))]) })
    expect(chunked.status).toBe(200)
    expect(upstream.requests[1]!.body.toString()).toBe(body)
    const bad = await get(`${url}/api/posts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: '<script>alert(1)</script>' }) })
    expect(bad.status).toBe(403)
    expect(bad.json()).toEqual({ error: 'Forbidden', code: 'SWY_ERR_WAF_BLOCKED', message: 'the request was refused by the web application firewall' })
    expect(bad.text).not.toMatch(/1001|script tag/) // the answer never names a rule
    expect(upstream.hits).toBe(2)
    await lb.close()
  })

  it('bodyLimit: a declared larger body is refused 413 before it is read; a chunked one when it grows past', async () => {
    const { url, upstream, lb } = await inFront({ rules: RULES, bodyLimit: 1_000 })
    const declared = await rawExchange(url, `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n`)
    expect(statusOf(declared.text)).toBe(413)
    expect(declared.text).toMatch(/SWY_ERR_WAF_BODY_LIMIT/)
    const chunk = 'x'.repeat(600)
    const grown = await rawExchange(url, `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`)
    expect(statusOf(grown.text)).toBe(413)
    expect(upstream.hits).toBe(0)
    await lb.close()
  })

  it('bodyTimeout: a client that stops sending its body is answered 408 and the connection closed', async () => {
    const { url, upstream, lb } = await inFront({ rules: RULES, bodyTimeout: 100 })
    const res = await rawExchange(url, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly a part', 3_000)
    expect(statusOf(res.text)).toBe(408)
    expect(res.text).toMatch(/SWY_ERR_WAF_BODY_TIMEOUT/)
    expect(res.ended).toBe('end')
    expect(upstream.hits).toBe(0)
    await lb.close()
  })

  it("mode 'detect' lets everything through and reports what would have been blocked", async () => {
    const reports: WafReport[] = []
    const { url, upstream, lb } = await inFront({ rules: RULES, mode: 'detect', onMatch: (r) => reports.push(r) })
    expect((await get(`${url}/?q=%3Cscript%3E`)).status).toBe(200)
    expect(upstream.hits).toBe(1)
    expect(reports).toEqual([
      expect.objectContaining({ outcome: 'detected', method: 'GET', url: '/?q=%3Cscript%3E', rule: 1001, matches: [expect.objectContaining({ id: 1001, variable: 'ARGS:q', data: '<script', msg: 'script tag' })] }),
    ])
    await lb.close()
  })

  it('onMatch hears blocks (phase 1 before a chunked body is read) and the connection is not reused for an unread body', async () => {
    const reports: WafReport[] = []
    const { url } = await inFront({ rules: RULES, onMatch: (r) => reports.push(r) })
    const res = await rawExchange(url, 'POST / HTTP/1.1\r\nHost: x\r\nUser-Agent: sqlmap/1.7\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n')
    expect(statusOf(res.text)).toBe(403)
    expect(res.text).toMatch(/connection: close/i)
    expect(reports.map((r) => [r.outcome, r.rule])).toEqual([['blocked', 1002]])
  })

  it('a short declared body is read before phase 1: a block then keeps the connection, and a clean request on it still goes through', async () => {
    const reports: WafReport[] = []
    const { url, upstream } = await inFront({ rules: RULES, onMatch: (r) => reports.push(r) })
    const blocked = 'POST / HTTP/1.1\r\nHost: x\r\nUser-Agent: sqlmap/1.7\r\nContent-Length: 3\r\n\r\nabc'
    const clean = 'POST /ok HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\nConnection: close\r\n\r\na=b&c'
    const res = await rawExchange(url, blocked + clean) // two requests on one connection
    const statuses = [...res.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))
    expect(statuses).toEqual([403, 200])
    expect(res.text.split('HTTP/1.1 200')[0]).not.toMatch(/connection: close/i)
    expect(reports.map((r) => [r.outcome, r.rule])).toEqual([['blocked', 1002]])
    expect(upstream.requests.map((r) => [r.url, r.body.toString()])).toEqual([['/ok', 'a=b&c']])
  })

  it('exclusions: a field, a rule on a path, or a whole path left alone; other requests still inspected', async () => {
    const { url } = await inFront({
      rules: RULES,
      exclusions: [{ path: '/editor', target: 'ARGS:html' }, { path: '/legacy', rules: [1001] }, { path: '/healthz' }],
    })
    expect((await get(`${url}/editor?html=%3Cscript%3E`)).status).toBe(200)
    expect((await get(`${url}/editor?title=%3Cscript%3E`)).status).toBe(403)
    expect((await get(`${url}/legacy?x=%3Cscript%3E`)).status).toBe(200)
    expect((await get(`${url}/healthz?x=%3Cscript%3E`, { headers: { 'user-agent': 'sqlmap' } })).status).toBe(200)
    expect((await get(`${url}/other?x=%3Cscript%3E`)).status).toBe(403)
  })

  it('a body a parser read before it (express.json()) is inspected from req.body and still forwarded', async () => {
    const upstream = await fakeUpstream({ name: 'app' })
    const lb = createBalancer({ upstreams: [upstream.url] })
    const firewall = waf({ rules: RULES })
    const { url } = await loopbackServer(async (req, res) => {
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      ;(req as { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString())
      firewall(req, res, () => lb.handler(req, res))
    })
    expect((await get(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":"<script>"}' })).status).toBe(403)
    expect((await get(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":"fine"}' })).status).toBe(200)
    expect(upstream.requests[0]!.body.toString()).toBe('{"a":"fine"}')
    await lb.close()
  })

  it('HTTP/2: pseudo-headers are not headers to the rules, :authority is the Host; bodies are inspected', async () => {
    const firewall = waf({ rules: `${RULES}\nSecRule REQUEST_HEADERS:Host "@streq blocked.example" "id:1003,phase:1,deny"` })
    const server = http2.createServer((req, res) => firewall(req as never, res as never, () => res.end('ok')))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const session = http2.connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`)
    const status = (headers: Record<string, string>, body?: string) =>
      new Promise<number>((resolve) => {
        const s = session.request(headers)
        s.on('response', (h) => resolve(Number(h[':status'])))
        s.resume()
        s.end(body)
      })
    expect(await status({ ':path': '/', ':authority': 'ok.example' })).toBe(200)
    expect(await status({ ':path': '/', ':authority': 'blocked.example' })).toBe(403)
    expect(await status({ ':path': '/', ':method': 'POST', ':authority': 'ok.example', 'content-type': 'application/x-www-form-urlencoded' }, 'a=%3Cscript%3E')).toBe(403)
    session.close()
    await new Promise((r) => server.close(r))
  })

  it('bad options are typed errors at start, naming the option', () => {
    for (const [options, field] of [
      [{}, 'waf().crs'],
      [{ rules: 'x', mode: 'off' }, 'waf().mode'],
      [{ rules: 'x', paranoiaLevel: 5 }, 'waf().paranoiaLevel'],
      [{ rules: 'x', bodyLimit: -1 }, 'waf().bodyLimit'],
      [{ rules: 'x', exclusions: [{ target: 'NOT A VAR' }] }, 'waf().exclusions[0].target'],
      [{ rules: 'x', nope: 1 }, 'waf().nope'],
    ] as const) {
      expect(() => waf(options as never), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'SWY_ERR_INVALID_OPTION', field }))
    }
    expect(() => waf({ crs: '/nonexistent/crs' })).toThrow(expect.objectContaining({ code: 'SWY_ERR_WAF_RULE' }))
  })

  it('a throwing onMatch does not change the answer', async () => {
    const { send } = await firewalled({ rules: RULES })
    const throwing = waf({ rules: RULES, onMatch: () => { throw new Error('log down') } })
    const { url } = await loopbackServer((req, res) => throwing(req, res, () => res.end('ok')))
    expect((await get(`${url}/?q=%3Cscript%3E`)).status).toBe(403)
    expect(await send({ name: 'clean', method: 'GET', path: '/?q=fine' })).toBe(200)
  })
})
