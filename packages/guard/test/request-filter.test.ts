import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type BlockInfo, compose, requestFilter } from '@switchyard/guard'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { rawExchange, statusOf } from '@switchyard/testing'

/** A server whose handler answers 200 behind requestFilter(options); returns its URL and the blocks seen. */
async function filtered(options: Parameters<typeof requestFilter>[0]) {
  const blocks: BlockInfo[] = []
  const server = http.createServer(compose(requestFilter({ ...options, onBlock: (b) => blocks.push(b) }), (_req, res) => res.end('passed')))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, blocks }
}

/** Sends a request line as written (probes are not valid URLs to every client). */
async function status(url: string, target: string, headers = ''): Promise<number> {
  return statusOf((await rawExchange(url, `GET ${target} HTTP/1.1\r\nHost: app.example\r\n${headers}Connection: close\r\n\r\n`)).text)
}

describe('the starter rules', () => {
  // Each probe with the rule that must catch it.
  const probes: Array<[string, string]> = [
    ["/items?id=1'+OR+'1'%3D'1", 'sql-tautology (query)'],
    ['/items?id=1%22%20or%201%3D1', 'sql-tautology (query)'],
    ['/items?id=1+UNION+SELECT+username,password+FROM+users', 'sql-union (query)'],
    ['/items?id=1%20union%20all%20select%20null', 'sql-union (query)'],
    ["/login?user=admin'--", 'sql-comment (query)'],
    ["/login?user=admin'%23", 'sql-comment (query)'],
    ['/items?id=1;DROP+TABLE+users', 'sql-stacked (query)'],
    ['/items?id=1+AND+SLEEP(5)', 'sql-timing (query)'],
    ["/items?id=1';WAITFOR+DELAY+'0:0:5'--", 'sql-comment (query)'],
    ['/search?q=<script>alert(1)</script>', 'xss-script (query)'],
    ['/search?q=%3Cscript%3Ealert(1)%3C/script%3E', 'xss-script (query)'],
    ['/search?q=%253Cscript%253Ealert(1)', 'xss-script (query)'],
    ['/redirect?url=javascript:alert(1)', 'xss-javascript-url (query)'],
    ['/p?x=<img+src=x+onerror=alert(1)>', 'xss-handler (query)'],
    ['/p?x=<svg/onload=alert(1)>', 'xss-handler (query)'],
    ['/p?x=<iframe+src=//evil.example>', 'xss-embed (query)'],
    ['/page/%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'xss-script (path)'],
    ['/users/1%20UNION%20SELECT%20password%20FROM%20users', 'sql-union (path)'],
  ]
  for (const [target, rule] of probes) {
    it(`blocks ${target} (${rule}); the rule is reported, never sent`, async () => {
      const { url, blocks } = await filtered({ starter: true })
      const res = await rawExchange(url, `GET ${target} HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n`)
      expect(statusOf(res.text)).toBe(403)
      expect(res.text).toContain('SWY_ERR_FORBIDDEN')
      expect(res.text).not.toContain(rule.split(' ')[0]!)
      expect(blocks.map((b) => b.rule)).toEqual([rule])
    })
  }

  // Realistic requests that look a little like probes: none may be blocked.
  const benign = [
    '/search?q=labor+union+members',
    '/articles/how-to-select-a-union-rep',
    "/search?q=O'Reilly+books",
    "/api/users?name=D'Angelo&role=admin",
    '/products?sort=price&order=desc&select=name,price',
    '/search?q=rock+%26+roll',
    '/docs/javascript-guide',
    '/search?q=javascript+closures',
    '/events?on=load&when=now',
    '/comments?text=I+loaded+the+page+and+it+was+great',
    '/math?expr=a--b&x=1%3D1',
    '/search?q=C%23+script+tutorial',
    '/search?q=%3C3+love',
    '/blog/select-insert-update-delete-explained',
    "/q?text=it's+1+or+2",
    '/sleep/tips?hours=8',
    '/api/v1/orders/7?fields=id,total&expand=items',
  ]
  for (const target of benign) {
    it(`passes ${target}`, async () => {
      const { url, blocks } = await filtered({ starter: true })
      expect(await status(url, target)).toBe(200)
      expect(blocks).toEqual([])
    })
  }
})

describe('rules', () => {
  it('allowMethods, denyPath, denyHeader, maxHeaders, maxHeaderBytes', async () => {
    const { url, blocks } = await filtered({
      rules: [
        { name: 'methods', allowMethods: ['GET', 'HEAD'] },
        { name: 'no-admin', denyPath: /^\/admin\b/ },
        { name: 'no-curl', denyHeader: 'user-agent', pattern: /^curl\// },
        { name: 'few-headers', maxHeaders: 20 },
        { name: 'small-headers', maxHeaderBytes: 4_096 },
      ],
    })
    expect((await request(`${url}/x`, { method: 'POST', body: 'a' })).statusCode).toBe(403)
    expect(await status(url, '/admin/users')).toBe(403)
    expect(await status(url, '/administrators-guide')).toBe(200)
    expect(await status(url, '/', 'User-Agent: curl/8.5.0\r\n')).toBe(403)
    expect(await status(url, '/', Array.from({ length: 25 }, (_, i) => `X-H${i}: v\r\n`).join(''))).toBe(403)
    expect(await status(url, '/', `X-Big: ${'v'.repeat(5_000)}\r\n`)).toBe(403)
    expect(await status(url, '/ok')).toBe(200)
    expect(blocks.map((b) => b.rule)).toEqual(['methods', 'no-admin', 'no-curl', 'few-headers', 'small-headers'])
  })

  it('refuses a malformed rule at creation, naming it', () => {
    expect(() => requestFilter({ rules: [{ name: 'x', denyPath: '/admin' as never }] })).toThrow(/rules\[0\]\.denyPath must be a RegExp/)
    expect(() => requestFilter({ rules: [{ name: 'x' } as never] })).toThrow(/must have one of allowMethods/)
    expect(() => requestFilter({ rules: [{ name: 'x', denyPath: /a/, extra: 1 } as never] })).toThrow(/unknown option requestFilter\(\)\.rules\[0\]\.extra/)
  })
})

describe('denyPath matches the path as the upstream reads it (issue 22)', () => {
  // Every spelling of /admin a client may send; the upstream reads each as /admin/….
  const spellings = [
    '/admin/users',
    'http://x/admin/users',
    'HTTPS://app.example:8443/admin/users?x=1',
    '/static/../admin/users',
    '/static/%2e%2e/admin/users',
    '/static/%2E%2e/admin',
    '/static/%252e%252e/admin',
    '/./admin',
    '//admin',
    '///admin//users',
    '/%2Fadmin',
    '/%61dmin',
    '/static/..;/admin',
    '/admin;jsessionid=1/users',
    '/static/..%5cadmin',
    '/a/b/../../../../admin',
  ]
  for (const target of spellings) {
    it(`refuses ${target}`, async () => {
      const { url, blocks } = await filtered({ rules: [{ name: 'no-admin', denyPath: /^\/admin\b/ }] })
      expect(await status(url, target)).toBe(403)
      expect(blocks.map((b) => b.rule)).toEqual(['no-admin'])
    })
  }

  const others = ['/administrator', '/admins', '/static/admin', '/a/../static/x', '/docs?next=/admin', '/%zz/admin']
  for (const target of others) {
    it(`lets ${target} through`, async () => {
      const { url, blocks } = await filtered({ rules: [{ name: 'no-admin', denyPath: /^\/admin\b/ }] })
      expect(await status(url, target)).toBe(200)
      expect(blocks).toEqual([])
    })
  }
})
