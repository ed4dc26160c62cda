import fc from 'fast-check'
import { waf } from '@switchyard/waf'
import { describe, expect, it } from 'vitest'
import { DEBIAN_CRS } from './helpers/firewall.js'

// The engine on bytes no one would send: every parser (urlencoded, JSON, XML, multipart, cookies,
// the request target) and every rule of the CRS over random and mutated input. It never throws,
// and its verdict is a verdict. The socket side (Node's parser, bodies cut short) is fuzzed with
// the gateway in test/fuzz.test.ts.
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a).toString('latin1'))
const tricky = fc.constantFrom('%', '%u', '&', '=', ';', '"', "'", '<', '>', '{', '}', '[', ']', '\\', '\0', '\r\n', '--B', '<![CDATA[', '<!--', '${', '%{tx.x}', '../', 'select', '\xc0\xaf', '\xff')
const text = fc.array(fc.oneof(tricky, bytes(12), fc.string({ maxLength: 8 })), { maxLength: 24 }).map((p) => p.join(''))

describe('fuzzed requests through the CRS (issue 25)', () => {
  const firewall = waf({ crs: DEBIAN_CRS, paranoiaLevel: 4 })
  it('never throws, whatever the target, headers, content type and body', () => {
    fc.assert(
      fc.property(
        text,
        fc.array(fc.tuple(fc.constantFrom('Cookie', 'User-Agent', 'Referer', 'X-Any', 'Content-Type', 'Range', 'Accept'), text), { maxLength: 6 }),
        fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/xml', 'multipart/form-data; boundary=B', 'multipart/form-data', 'text/plain', ''),
        text,
        (target, headers, type, body) => {
          const v = firewall.inspect(
            { method: 'POST', url: `/${target}`, protocol: 'HTTP/1.1', headers: ['Host', 'x', 'Content-Type', type, ...headers.flat()], remoteAddress: '127.0.0.1', remotePort: 1 },
            body,
          )
          expect(typeof v.score).toBe('number')
          expect(Array.isArray(v.matches)).toBe(true)
        },
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300), seed: Number(process.env.FUZZ_SEED ?? 25) },
    )
  })
})
