import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/engine/engine.js'
import type { WafRequest } from '../src/engine/request-vars.js'

/**
 * What the engine remembers across requests (engine/verdicts.ts: verdicts per value, values clean
 * for a set or for every set reading a collection; body/json.ts: argument names kept) must never
 * change a verdict: a long-lived engine answers every request of a sequence as a new engine does.
 */
describe('what the engine remembers between requests changes no verdict', () => {
  const word = fc.constantFrom('a', 'b', 'x y', 'evil', 'EVIL', 'foo', '1', '2', "o'k", '<b>', 'select', '..', 'json')
  const target = fc.constantFrom('ARGS', 'ARGS_NAMES', 'ARGS|ARGS_NAMES', 'ARGS:q', 'ARGS|!ARGS:q', 'REQUEST_HEADERS', 'REQUEST_HEADERS:X-A', 'REQUEST_COOKIES|!REQUEST_COOKIES:/^s/', 'ARGS|REQUEST_COOKIES', 'ARGS_POST')
  const operator = fc.oneof(
    word.map((w) => `@rx ${w.replace(/[.'<>]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`).replace(/ /g, '\\x20')}`),
    fc.constantFrom('@rx ^\\d+$', '@rx [<>]', "@rx '", '@rx (?i)evil', '@pm evil select', '@streq foo', '@contains x', '@beginsWith j', '@rx ^$'),
  )
  const transforms = fc.constantFrom('t:none', 't:none,t:lowercase', 't:none,t:urlDecodeUni', 't:none,t:compressWhitespace', 't:none,t:length', 't:none,t:removeWhitespace,t:lowercase')
  const rule = fc.tuple(target, operator, transforms, fc.constantFrom(1, 2), fc.boolean())
  /** A rule; now and then one only a request with `X-Gate` reaches (a rule run for the first time later). */
  const program = fc.array(rule, { minLength: 1, maxLength: 8 }).map((rules) =>
    rules
      .map(([t, op, tr, phase, gated], i) => {
        const r = `SecRule ${t} "${op}" "id:${i + 10},phase:${phase},pass,log,${tr}"`
        return gated ? `SecRule &REQUEST_HEADERS:X-Gate "@eq 0" "id:${i + 100},phase:${phase},pass,nolog,skipAfter:G${i}"\n${r}\nSecMarker G${i}` : r
      })
      .join('\n'),
  )
  const request = fc.record({
    query: fc.array(fc.tuple(fc.constantFrom('q', 'p', 'json'), word), { maxLength: 3 }),
    json: fc.option(fc.array(word, { maxLength: 3 }), { nil: undefined }),
    cookie: fc.option(fc.tuple(fc.constantFrom('sid', 'theme'), word), { nil: undefined }),
    header: fc.option(word, { nil: undefined }),
    gate: fc.boolean(),
  })
  type Req = typeof request extends fc.Arbitrary<infer T> ? T : never
  const toWaf = (r: Req): { req: WafRequest; body?: string } => {
    const headers = ['Host', 'example.com']
    if (r.cookie !== undefined) headers.push('Cookie', `${r.cookie[0]}=${encodeURIComponent(r.cookie[1])}`)
    if (r.header !== undefined) headers.push('X-A', r.header)
    if (r.gate) headers.push('X-Gate', '1')
    const query = r.query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')
    const url = `/s${query === '' ? '' : `?${query}`}`
    if (r.json === undefined) return { req: { method: 'GET', url, protocol: 'HTTP/1.1', headers, remoteAddress: '192.0.2.7', remotePort: 40000 } }
    const body = JSON.stringify({ items: r.json.map((w) => ({ w })) })
    return { req: { method: 'POST', url, protocol: 'HTTP/1.1', headers: [...headers, 'Content-Type', 'application/json'], remoteAddress: '192.0.2.7', remotePort: 40000 }, body }
  }
  const outcome = (e: Engine, r: { req: WafRequest; body?: string }) => {
    const v = e.inspect(r.req, r.body)
    return v.matches.map((m) => `${m.id} ${m.variable}=${m.data}`)
  }

  it('a long-lived engine and a new engine per request agree on every request of a sequence', () => {
    fc.assert(
      fc.property(program, fc.array(request, { minLength: 2, maxLength: 10 }), (text, sequence) => {
        const load = () => ''
        const kept = new Engine([{ file: 'rules.conf', text }], load)
        for (const r of sequence) {
          const one = toWaf(r)
          expect(outcome(kept, one)).toEqual(outcome(new Engine([{ file: 'rules.conf', text }], load), one))
        }
      }),
      { numRuns: 400 },
    )
  })
})
