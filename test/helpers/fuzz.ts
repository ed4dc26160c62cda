import fc from 'fast-check'
import { rawExchange } from '@switchyard/testing'

/**
 * Raw HTTP/1.x requests for property tests of the request surface: request lines (methods,
 * targets in every form, versions a parser lets through and ones it does not), header sets drawn
 * from what smuggling, spoofing and parser-confusion attempts use, bodies (plain, chunked, broken
 * chunked), and random byte mutations of the whole. Built from fast-check's arbitraries, so a
 * failure shrinks to a small request and a seed replays it.
 */

const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}$/

const method = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH') },
  { weight: 1, arbitrary: fc.constantFrom('CONNECT', 'TRACE', 'PRI', 'get', 'PROPFIND', 'M-SEARCH') },
  { weight: 1, arbitrary: fc.stringMatching(TOKEN) },
)

const segment = fc.oneof(
  fc.constantFrom('', '.', '..', '%2e%2e', '%2E.', '.%2e', 'admin', '%E0%A4%A', '%zz', '%00', '%', '%2F', '%252e%252e', ';a=b', '~u', 'ü', '\\..\\'),
  fc.stringMatching(/^[a-z0-9._~-]{0,8}$/),
)
const path = fc.tuple(fc.array(segment, { maxLength: 6 }), fc.option(fc.stringMatching(/^[a-z0-9=&%+.;-]{0,16}$/))).map(
  ([segments, query]) => `/${segments.join('/')}${query === null ? '' : `?${query}`}`,
)
const target = fc.oneof(
  { weight: 12, arbitrary: path },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('http://app.example', 'HTTPS://x:99', 'http://', 'ws://h', 'http://a@b'), path).map(([o, p]) => o + p) },
  { weight: 1, arbitrary: fc.constantFrom('*', 'db.internal:5432', '', '//admin', '/./admin', 'admin', '/a#frag', '/%0d%0aSet-Cookie:x') },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
)

const version = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('HTTP/1.1', 'HTTP/1.0') },
  { weight: 1, arbitrary: fc.constantFrom('HTTP/2.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/3.0', 'http/1.1', 'HTTP/1.1 ', 'HTTP/2', '') },
)

/** Headers of everyday requests: most requests are mostly these, so many reach the upstream. */
const everyday = fc.constantFrom('Host: app.example', 'Accept: */*', 'User-Agent: fuzz/1', 'Content-Type: application/json', 'Cookie: a=b', 'X-Request-Id: 7', 'Connection: keep-alive', 'Connection: close')

const header = fc.oneof(
  { weight: 10, arbitrary: everyday },
  fc.constantFrom('Host: app.example', 'Host: ', 'Host: a b', 'Host: [::1]:8080', 'Host: x"y', 'Host: a,b', `Host: ${'a'.repeat(300)}`, 'Host: app.example:99999'),
  fc.constantFrom('Content-Length: 0', 'Content-Length: 5', 'Content-Length: 40', 'Content-Length: -1', 'Content-Length: 99999999999999999999', 'Content-Length: 5, 6', 'Content-Length: abc', 'Content-Length:  3 '),
  fc.constantFrom('Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: chunked, gzip', 'Transfer-Encoding: identity', 'Transfer-Encoding: xchunked', 'Transfer-Encoding : chunked'),
  fc.constantFrom('Connection: close', 'Connection: keep-alive', 'Connection: upgrade', 'Connection: x-secret, close', 'Connection: Content-Length', 'X-Secret: s'),
  fc.constantFrom('Upgrade: websocket', 'Upgrade: h2c', 'Upgrade: ???', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'),
  fc.constantFrom('Expect: 100-continue', 'Expect: nonsense', 'TE: trailers', 'TE: gzip', 'Proxy: http://evil', 'Keep-Alive: timeout=1'),
  fc.constantFrom(
    'X-Forwarded-For: 1.2.3.4',
    `X-Forwarded-For: fe80::1%${'z'.repeat(200)}`,
    'X-Forwarded-For: garbage, 001.002.003.004',
    'X-Forwarded-Host: evil"; x=',
    'X-Forwarded-Proto: javascript',
    'Forwarded: for=evil',
    'Forwarded: "',
    'X_Under_Score: 1',
    'Cookie: a=b; c=%E0%A4%A',
    'Content-Type: application/json',
  ),
  fc.tuple(fc.stringMatching(TOKEN), fc.string({ maxLength: 30 })).map(([n, v]) => `${n}: ${v}`),
)

/** A body, with the framing the headers above may or may not declare. */
const body = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  { weight: 2, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 30 }).map((s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n0\r\n\r\n`) },
  { weight: 1, arbitrary: fc.constantFrom('zz\r\nabc\r\n0\r\n\r\n', '5\r\nab\r\n', '0\r\nX-Trailer: 1\r\n\r\n', '3;ext=1\r\nabc\r\n0\r\n\r\n', 'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n') },
)

/** One mutation of the raw bytes: overwrite, insert or delete at a relative position. */
const mutation = fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), kind: fc.constantFrom('set', 'insert', 'delete'), byte: fc.integer({ min: 0, max: 255 }) })

export interface FuzzRequest {
  readonly bytes: Buffer
  /** For reading a failure: the request as text (latin1). */
  readonly text: string
}

/** A raw request: line, headers, blank line, body; sometimes mutated byte by byte. */
export const rawRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method,
    target,
    version,
    headers: fc.array(header, { maxLength: 8 }),
    body,
    mutations: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) }),
  })
  .map(({ method, target, version, headers, body, mutations }) => {
    const bytes = [...Buffer.from(`${method} ${target} ${version}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`, 'latin1')]
    for (const m of mutations) {
      const i = Math.min(bytes.length - 1, Math.floor(m.at * bytes.length))
      if (m.kind === 'set') bytes[i] = m.byte
      else if (m.kind === 'insert') bytes.splice(i, 0, m.byte)
      else bytes.splice(i, 1)
    }
    const buffer = Buffer.from(bytes)
    return { bytes: buffer, text: buffer.toString('latin1') }
  })

/** What one fuzz request got back, judged. */
export interface FuzzOutcome {
  readonly status: number | undefined
  readonly code: string | undefined
  readonly problem: string | undefined
}

const STATUS_LINE = /^HTTP\/1\.1 ([1-5]\d\d) [^\r\n]*\r\n/
const HEADER_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+: ?[^\r\n]*$/

/**
 * Sends one raw request and judges what came back: a well-formed HTTP/1.1 response (status
 * line, header lines, the blank line), or a clean close with nothing said. A connection left
 * open with nothing said is a problem unless the request was cut short itself (no blank line
 * after its head), when the server rightly waits for the rest. A 500 with `SWY_ERR_INTERNAL` is
 * always a problem: something threw that nothing should.
 */
export async function sendRaw(url: string, request: FuzzRequest, waitMs: number): Promise<FuzzOutcome> {
  const { text, ended } = await rawExchange(url, request.bytes, waitMs)
  if (text === '') {
    if (ended !== 'timeout') return { status: undefined, code: undefined, problem: undefined }
    return { status: undefined, code: undefined, problem: request.text.includes('\r\n\r\n') ? 'no answer and the connection left open' : undefined }
  }
  const line = STATUS_LINE.exec(text)
  if (line === null) return { status: undefined, code: undefined, problem: `not an HTTP/1.1 status line: ${JSON.stringify(text.slice(0, 80))}` }
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) return { status: Number(line[1]), code: undefined, problem: 'the response head never ended' }
  const bad = text
    .slice(line[0].length, end)
    .split('\r\n')
    .find((h) => h !== '' && !HEADER_LINE.test(h))
  if (bad !== undefined) return { status: Number(line[1]), code: undefined, problem: `a malformed response header line: ${JSON.stringify(bad)}` }
  const code = /"code":"(SWY_ERR_[A-Z_]+)"/.exec(text.slice(end))?.[1]
  return { status: Number(line[1]), code, problem: code === 'SWY_ERR_INTERNAL' ? 'the balancer threw (SWY_ERR_INTERNAL)' : undefined }
}

/** How many runs: a bounded count in CI, more when `FUZZ_RUNS` says (for a longer run by hand). */
export function fuzzRuns(ci: number): number {
  const n = Number(process.env.FUZZ_RUNS)
  return Number.isInteger(n) && n > 0 ? n : ci
}

/** The seed: fixed, so CI replays the same cases; `FUZZ_SEED` picks another. */
export function fuzzSeed(): number {
  const n = Number(process.env.FUZZ_SEED)
  return Number.isInteger(n) ? n : 22
}
