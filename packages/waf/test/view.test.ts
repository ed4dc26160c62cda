import { BadRequestError, type BalancerOptions, createBalancer } from '@switchyard/core'
import { fakeUpstream, loopbackServer, rawExchange, statusOf } from '@switchyard/testing'
import { type WafOptions, type WafReport, waf } from '@switchyard/waf'
import { describe, expect, it, onTestFinished } from 'vitest'
import { DEBIAN_CRS } from './helpers/firewall.js'

/** The WAF (Debian's CRS) in front of a balancer, seeing requests as it (`view`) or as they came. */
async function guarded(view: boolean, extra: Partial<WafOptions> = {}, lbOptions: Partial<BalancerOptions> = {}) {
  const upstream = await fakeUpstream({ name: 'app' })
  const lb = createBalancer({ upstreams: [upstream.url], ...lbOptions })
  onTestFinished(() => lb.close())
  const reports: WafReport[] = []
  const errors: unknown[] = []
  const firewall = waf({ crs: DEBIAN_CRS, onMatch: (r) => reports.push(r), ...(view ? { view: (req) => lb.upstreamHead(req) } : {}), ...extra })
  const { url } = await loopbackServer((req, res) =>
    firewall(req, res, (err) => {
      if (err === undefined) return lb.handler(req, res)
      errors.push(err)
      res.statusCode = 500
      res.end()
    }),
  )
  const send = async (head: string, body = '') => statusOf((await rawExchange(url, `${head}\r\nConnection: close\r\n${body === '' ? '' : `Content-Length: ${body.length}\r\n`}\r\n${body}`)).text)
  const raw = async (bytes: string) => statusOf((await rawExchange(url, bytes)).text)
  return { upstream, reports, errors, send, raw }
}

/** A Java deserialization payload (CRS 944100, critical: one match blocks), in any header. */
const JAVA = 'java.lang.Runtime.getRuntime().exec("id")'

describe('waf({ view }): the request as the balancer will send it', () => {
  it('a header the balancer drops (listed in Connection, or with _) is not judged; the same in a header it keeps is', async () => {
    const as = await guarded(false)
    const upstreamView = await guarded(true)
    const listed = `GET /a HTTP/1.1\r\nHost: app.example\r\nConnection: x-payload\r\nX-Payload: ${JAVA}`
    const underscore = `GET /a HTTP/1.1\r\nHost: app.example\r\nX_Payload: ${JAVA}`
    const kept = `GET /a HTTP/1.1\r\nHost: app.example\r\nX-Payload: ${JAVA}`
    expect([await as.send(listed), await as.send(underscore), await as.send(kept)]).toEqual([403, 403, 403])
    expect([await upstreamView.send(listed), await upstreamView.send(underscore), await upstreamView.send(kept)]).toEqual([200, 200, 403])
    // What got through never carried the payload.
    expect(upstreamView.upstream.requests.map((r) => JSON.stringify(r.rawHeaders).includes('java.lang'))).toEqual([false, false])
  })

  it('the client’s Host and framing stay as sent: a chunked POST matches the same rules either way', async () => {
    for (const view of [false, true]) {
      const g = await guarded(view)
      const chunked = 'POST /api HTTP/1.1\r\nHost: 192.0.2.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\na=b&c\r\n0\r\n\r\n'
      expect(await g.raw(chunked), `view ${view}`).toBe(200)
      expect(g.upstream.requests[0]!.body.toString()).toBe('a=b&c')
      // 920350 (a Host that is an IP address) sees the client's Host; 920180 (a POST without a length) does not fire.
      expect(g.reports.flatMap((r) => r.matches.map((m) => m.id)), `view ${view}`).toEqual([920350])
    }
  })

  it('what view throws is answered as the balancer would: its 400, or next(err) for anything else', async () => {
    const refused = await guarded(false, { view: () => { throw new BadRequestError('no') } })
    expect(await refused.send('GET / HTTP/1.1\r\nHost: app.example')).toBe(400)
    expect(refused.upstream.hits).toBe(0)
    const broken = await guarded(false, { view: () => { throw new Error('bug') } })
    expect(await broken.send('GET / HTTP/1.1\r\nHost: app.example')).toBe(500)
    expect((broken.errors[0] as Error).message).toBe('bug')
    // A request the balancer refuses (two Hosts) is refused by the view too, before any rule runs.
    const real = await guarded(true)
    expect(await real.send('GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example')).toBe(400)
    expect(real.reports).toEqual([])
  })

  it('an attack in the path is judged on the path the upstream gets (after rewritePath)', async () => {
    const g = await guarded(true, {}, { rewritePath: { stripPrefix: '/api' } })
    expect(await g.send("GET /api/items?id=1'%20OR%20'1'='1 HTTP/1.1\r\nHost: app.example")).toBe(403)
    expect(await g.send('GET /api/items?id=7 HTTP/1.1\r\nHost: app.example')).toBe(200)
    expect(g.upstream.requests.map((r) => r.url)).toEqual(['/items?id=7'])
    expect(g.reports.find((r) => r.outcome === 'blocked')!.matches.some((m) => m.id === 942100)).toBe(true)
  })

  it('is checked: a view that is not a function is refused at start', () => {
    expect(() => waf({ crs: DEBIAN_CRS, view: 'lb' as never })).toThrow(expect.objectContaining({ code: 'SWY_ERR_INVALID_OPTION', field: 'waf().view' }))
  })
})
