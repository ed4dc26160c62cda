import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import fc from 'fast-check'
import { describe, expect, it, onTestFinished } from 'vitest'
import { makeTestPki } from '../../../test/helpers/tls.js'
import { type GatewayConfig, loadConfig, startGateway } from '../src/index.js'
import { parseProxyHeader, ProxyHeaderError } from '../src/proxy-protocol.js'
import { fakeUpstream } from '@switchyard/testing'

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

/** A PROXY v2 header: PROXY (or LOCAL) over TCP, IPv4 or IPv6, with `tlvs` extra bytes after the addresses. */
function v2(source: string, sourcePort: number, { local = false, tlvs = Buffer.alloc(0) } = {}): Buffer {
  const six = source.includes(':')
  const addresses = Buffer.alloc(six ? 36 : 12)
  if (six) {
    const full = expandV6(source)
    for (let i = 0; i < 8; i++) addresses.writeUInt16BE(Number.parseInt(full[i]!, 16), i * 2)
    addresses.writeUInt16BE(1, 30) // destination ::1
    addresses.writeUInt16BE(sourcePort, 32)
    addresses.writeUInt16BE(443, 34)
  } else {
    for (const [i, b] of source.split('.').entries()) addresses.writeUInt8(Number(b), i)
    addresses.set([127, 0, 0, 1], 4)
    addresses.writeUInt16BE(sourcePort, 8)
    addresses.writeUInt16BE(443, 10)
  }
  const body = Buffer.concat([addresses, tlvs])
  const head = Buffer.alloc(4)
  head[0] = local ? 0x20 : 0x21
  head[1] = six ? 0x21 : 0x11
  head.writeUInt16BE(body.length, 2)
  return Buffer.concat([V2_SIGNATURE, head, body])
}

function expandV6(a: string): string[] {
  const [left, right = ''] = a.split('::')
  const l = left === '' ? [] : left!.split(':')
  const r = right === '' ? [] : right.split(':')
  return [...l, ...Array(8 - l.length - r.length).fill('0'), ...r]
}

describe('parseProxyHeader', () => {
  it('reads v1: TCP4, TCP6, UNKNOWN; and waits for the rest of a header cut short', () => {
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\nGET /'))).toEqual({
      header: { address: '203.0.113.7', port: 51234, family: 'IPv4' },
      length: 42,
    })
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 ::1 443 8443\r\n'))!.header).toEqual({ address: '2001:db8::7', port: 443, family: 'IPv6' })
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ header: undefined, length: 15 })
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 51234'))).toBeUndefined()
    expect(parseProxyHeader(Buffer.from('PRO'))).toBeUndefined()
  })

  it('reads v2: IPv4, IPv6 (written as Node writes it), LOCAL, TLVs skipped; and waits for the rest', () => {
    expect(parseProxyHeader(v2('198.51.100.9', 4242))).toEqual({ header: { address: '198.51.100.9', port: 4242, family: 'IPv4' }, length: 28 })
    expect(parseProxyHeader(v2('2001:db8:0:0:1:0:0:1', 80))!.header).toEqual({ address: '2001:db8::1:0:0:1', port: 80, family: 'IPv6' })
    expect(parseProxyHeader(v2('198.51.100.9', 1, { local: true }))!.header).toBeUndefined()
    const withTlv = v2('198.51.100.9', 1, { tlvs: Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32]) }) // ALPN "h2"
    expect(parseProxyHeader(Buffer.concat([withTlv, Buffer.from('GET')]))).toMatchObject({ length: 33 })
    expect(parseProxyHeader(v2('198.51.100.9', 1).subarray(0, 20))).toBeUndefined()
  })

  it('refuses what is not a header: plain HTTP, a bad family, a bad port, a v1 line too long, an unknown v2 command', () => {
    for (const bad of [
      'GET / HTTP/1.1\r\n',
      'PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n',
      'PROXY TCP4 203.0.113.7 10.0.0.1 051234 80\r\n',
      'PROXY TCP4 203.0.113.7 10.0.0.1 70000 80\r\n',
      'PROXY TCP5 203.0.113.7 10.0.0.1 1 2\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}`,
    ]) {
      expect(() => parseProxyHeader(Buffer.from(bad)), bad).toThrow(ProxyHeaderError)
    }
    const command = v2('198.51.100.9', 1)
    command[12] = 0x22
    expect(() => parseProxyHeader(command)).toThrow(/unknown command/)
  })

  it('on any bytes, answers a header, "more please", or a ProxyHeaderError — nothing else', () => {
    const prefixes = fc.constantFrom(Buffer.alloc(0), Buffer.from('PROXY '), V2_SIGNATURE, Buffer.concat([V2_SIGNATURE, Buffer.from([0x21])]))
    fc.assert(
      fc.property(prefixes, fc.uint8Array({ maxLength: 200 }), (prefix, rest) => {
        try {
          const r = parseProxyHeader(Buffer.concat([prefix, rest]))
          return r === undefined || (r.length > 0 && r.length <= prefix.length + rest.length)
        } catch (err) {
          return err instanceof ProxyHeaderError
        }
      }),
      { numRuns: 2_000, seed: 26 },
    )
  })
})

/** Sends raw bytes on a new connection; resolves with all that came back when the gateway closes it (or after `ms`). */
async function exchange(port: number, ...chunks: (string | Buffer)[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let out = ''
  socket.on('data', (d) => (out += d.toString('latin1')))
  for (const c of chunks) socket.write(c)
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 3_000))])
  socket.destroy()
  return out
}

async function gateway(config: Partial<GatewayConfig> = {}) {
  const backend = await fakeUpstream({ name: 'backend' })
  const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off', STATUS_PATH: 'off' }), upstreams: [backend.url], port: 0, host: '127.0.0.1', proxyProtocol: true, ...config })
  onTestFinished(() => gw.close())
  return { gw, backend }
}

const GET = (path = '/', close = true) => `GET ${path} HTTP/1.1\r\nHost: shop.test\r\n${close ? 'Connection: close\r\n' : ''}\r\n`

describe('the gateway with proxyProtocol', () => {
  it("takes the client's address from a v1 header, for X-Forwarded-For, on every request of the connection", async () => {
    const { gw, backend } = await gateway()
    const out = await exchange(gw.port, 'PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n', GET('/a', false), GET('/b'))
    expect(out.match(/HTTP\/1\.1 200/g)).toHaveLength(2)
    expect(backend.requests.map((r) => [r.url, r.headers['x-forwarded-for']])).toEqual([
      ['/a', '203.0.113.7'],
      ['/b', '203.0.113.7'],
    ])
  })

  it('takes it from a v2 header (IPv6), header and request in one packet; LOCAL keeps the real peer', async () => {
    const { gw, backend } = await gateway()
    await exchange(gw.port, Buffer.concat([v2('2001:db8::42', 5000), Buffer.from(GET('/six'))]))
    await exchange(gw.port, Buffer.concat([v2('198.51.100.1', 1, { local: true }), Buffer.from(GET('/local'))]))
    expect(backend.requests.map((r) => [r.url, r.headers['x-forwarded-for']])).toEqual([
      ['/six', '2001:db8::42'],
      ['/local', '127.0.0.1'],
    ])
  })

  it('the guards judge the address the header carries (ipFilter)', async () => {
    const { gw, backend } = await gateway({ guards: { ipFilter: { deny: ['203.0.113.0/24'] } } })
    expect(await exchange(gw.port, 'PROXY TCP4 203.0.113.7 10.0.0.1 1 80\r\n', GET('/denied'))).toMatch(/^HTTP\/1\.1 403/)
    expect(await exchange(gw.port, 'PROXY TCP4 198.51.100.7 10.0.0.1 1 80\r\n', GET('/allowed'))).toMatch(/^HTTP\/1\.1 200/)
    expect(backend.requests.map((r) => r.url)).toEqual(['/allowed'])
  })

  it('rateLimit and ipHash count by the address the header carries', async () => {
    const { gw } = await gateway({ guards: { rateLimit: { rate: 0.01, burst: 1, nodelay: true } } })
    const from = (ip: string, path: string) => exchange(gw.port, `PROXY TCP4 ${ip} 10.0.0.1 1 80\r\n`, GET(path))
    const statuses: string[] = []
    for (const path of ['/a', '/b', '/c']) statuses.push((await from('203.0.113.1', path)).slice(9, 12))
    expect(statuses).toEqual(['200', '200', '429']) // the same client: its one request and one of burst, then refused
    expect(await from('203.0.113.2', '/e')).toMatch(/^HTTP\/1\.1 200/) // another client: its own tokens
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const hashed = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off', STATUS_PATH: 'off' }), upstreams: [a.url, b.url], strategy: { name: 'ipHash' }, port: 0, host: '127.0.0.1', proxyProtocol: true })
    onTestFinished(() => hashed.close())
    const owner = async (ip: string) => JSON.parse((await exchange(hashed.port, `PROXY TCP4 ${ip} 10.0.0.1 1 80\r\n`, GET('/'))).split('\r\n\r\n')[1]!).name as string
    const owners = new Set<string>()
    for (let i = 1; i <= 20; i++) {
      const first = await owner(`198.51.100.${i}`)
      expect(await owner(`198.51.100.${i}`)).toBe(first) // one client, one upstream
      owners.add(first)
    }
    expect(owners.size).toBe(2) // and the clients are spread: the hash sees their addresses, not the balancer's
  })

  it('closes a connection without a header, with a malformed one, or one that ends early, answering nothing', async () => {
    const { gw, backend } = await gateway()
    expect(await exchange(gw.port, GET('/plain'))).toBe('')
    expect(await exchange(gw.port, 'PROXY TCP4 999.0.0.1 10.0.0.1 1 80\r\n', GET('/bad'))).toBe('')
    expect(await exchange(gw.port, V2_SIGNATURE.subarray(0, 8))).toBe('') // half a header, then nothing: the gateway waits…
    expect(backend.requests).toEqual([])
    // …and the gateway still serves a good connection after them.
    expect(await exchange(gw.port, 'PROXY TCP4 203.0.113.8 10.0.0.1 1 80\r\n', GET('/ok'))).toMatch(/^HTTP\/1\.1 200/)
  })

  it('works under TLS: the header comes first, then the handshake', async () => {
    const pki = makeTestPki()
    const dir = mkdtempSync(join(tmpdir(), 'gw-pp-'))
    writeFileSync(join(dir, 'server.crt'), pki.server.cert)
    writeFileSync(join(dir, 'server.key'), pki.server.key)
    const { gw, backend } = await gateway({ tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') } })
    const raw = net.connect(gw.port, '127.0.0.1')
    await once(raw, 'connect')
    raw.write('PROXY TCP4 192.0.2.55 10.0.0.1 40000 443\r\n')
    const socket = tls.connect({ socket: raw, ca: [pki.ca], servername: 'upstream.test', ALPNProtocols: ['http/1.1'] })
    await once(socket, 'secureConnect')
    let out = ''
    socket.on('data', (d) => (out += d))
    socket.write(GET('/tls'))
    await once(socket, 'end')
    expect(out).toMatch(/^HTTP\/1\.1 200/)
    expect(backend.requests.map((r) => r.headers['x-forwarded-for'])).toEqual(['192.0.2.55'])
  })

  it('is read from the config file and PROXY_PROTOCOL, and refused when not a boolean', () => {
    expect(loadConfig([], { PROXY_PROTOCOL: 'on' }).proxyProtocol).toBe(true)
    expect(loadConfig([], { PROXY_PROTOCOL: 'off' }).proxyProtocol).toBe(false)
    expect(() => loadConfig([], { PROXY_PROTOCOL: 'maybe' })).toThrow(/PROXY_PROTOCOL must be on or off/)
    const dir = mkdtempSync(join(tmpdir(), 'gw-pp-'))
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ proxyProtocol: 'yes' }))
    expect(() => loadConfig(['--config', join(dir, 'a.json')], {})).toThrow(/proxyProtocol must be true or false/)
  })
})
