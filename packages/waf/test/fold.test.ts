import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Engine, type Source } from '../src/engine/engine.js'
import type { WafRequest } from '../src/engine/request-vars.js'
import { crsSources, loadData } from '../src/crs/load.js'
import { DEBIAN_CRS } from './helpers/firewall.js'

const engine = (text: string) => new Engine([{ file: 'rules.conf', text }], () => '')
/** The same rules with nothing folded: every rule runs for every request. */
const unfolded = (sources: readonly Source[], load: (name: string, file: string) => string = () => '') => {
  const e = new Engine(sources, load)
  e.rules.folds = [[], []]
  return e
}
const request = (url: string): WafRequest => ({ method: 'GET', url, protocol: 'HTTP/1.1', headers: ['Host', 'example.com'], remoteAddress: '192.0.2.7', remotePort: 40000 })
const outcome = (e: Engine, url: string, body?: string) => {
  const v = e.inspect(request(url), body)
  return { interruption: v.interruption, score: v.score, matches: v.matches.map((m) => `${m.id} ${m.variable}=${m.data} ${m.msg}`) }
}
const folded = (e: Engine) => e.rules.folds.reduce((n, phase) => n + phase.filter((f) => f !== undefined).length, 0)

describe('rules every request runs the same way are run once, at load (engine/fold.ts)', () => {
  it('folds a setup and the gates that read it, and a request still sees what they set', () => {
    const e = engine(`
SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=1,setvar:tx.limit=5"
SecRule TX:level "@lt 2" "id:2,phase:1,pass,nolog,skipAfter:END-PL2"
SecRule ARGS "@streq pl2" "id:3,phase:1,deny"
SecMarker END-PL2
SecRule ARGS "@streq bad" "id:4,phase:1,pass,log,setvar:tx.score=+5"
SecRule TX:score "@ge %{tx.limit}" "id:5,phase:2,deny,msg:'score %{tx.score} of %{tx.limit}'"
`)
    expect(folded(e)).toBeGreaterThanOrEqual(2)
    expect(e.inspect(request('/?a=pl2')).interruption).toBeUndefined() // rule 3 is skipped: level 1
    expect(outcome(e, '/?a=bad').interruption).toEqual({ id: 5, action: 'deny' })
    expect(outcome(e, '/?a=bad').matches.at(-1)).toBe('5 TX:score=5 score 5 of 5')
  })

  it('a TX variable a request rule may set is not known: the rule reading it runs per request', () => {
    const e = engine(`
SecRule ARGS:a "@streq x" "id:1,phase:1,pass,nolog,setvar:tx.flag=1"
SecRule TX:flag "@eq 1" "id:2,phase:1,deny"
`)
    expect(e.inspect(request('/?a=x')).interruption?.id).toBe(2)
    expect(e.inspect(request('/?a=y')).interruption).toBeUndefined()
  })

  it('a request rule that jumps over a setup makes what the setup wrote unknown after the marker', () => {
    const e = engine(`
SecRule ARGS:a "@streq x" "id:1,phase:1,pass,nolog,skipAfter:END"
SecAction "id:2,phase:1,pass,nolog,setvar:tx.level=2"
SecMarker END
SecRule TX:level "@eq 2" "id:3,phase:1,deny"
`)
    expect(e.inspect(request('/?a=x')).interruption).toBeUndefined()
    expect(e.inspect(request('/?a=y')).interruption?.id).toBe(3)
  })

  it('a ctl that takes a folded rule out is obeyed: the request then runs every rule', () => {
    const e = engine(`
SecRule ARGS:a "@streq x" "id:1,phase:1,pass,nolog,ctl:ruleRemoveById=2"
SecAction "id:2,phase:1,pass,nolog,setvar:tx.block=1"
SecRule TX:block "@eq 1" "id:3,phase:1,deny"
`)
    expect(e.inspect(request('/?a=x')).interruption).toBeUndefined()
    expect(e.inspect(request('/?a=y')).interruption?.id).toBe(3)
  })

  it('names from the request (setvar with a macro) and captures make those TX variables unknown', () => {
    const e = engine(`
SecAction "id:1,phase:1,pass,nolog,setvar:tx.1=none,setvar:tx.x-seen=0"
SecRule ARGS:a "@rx ^(b+)$" "id:2,phase:1,pass,nolog,capture,setvar:'tx.%{matched_var_name}-seen=1'"
SecRule TX:1 "@streq bb" "id:3,phase:1,pass,log,msg:'captured'"
SecRule TX:/^args:a-seen$/ "@eq 1" "id:4,phase:1,pass,log,msg:'seen'"
SecRule TX:x-seen "@eq 0" "id:5,phase:1,pass,log,msg:'x still 0'"
`)
    expect(outcome(e, '/?a=bb').matches.map((m) => m.split(' ')[0])).toEqual(['3', '4', '5'])
    expect(outcome(e, '/?a=c').matches.map((m) => m.split(' ')[0])).toEqual(['5'])
  })

  it('gives the same verdicts folded and unfolded on any program of TX and request rules (fuzzed)', () => {
    const key = fc.constantFrom('a', 'b', 'c')
    const value = fc.constantFrom('0', '1', '2')
    const marker = fc.constantFrom('M1', 'M2', 'M3')
    const phase = fc.constantFrom(1, 2)
    const effect = fc.oneof(
      fc.tuple(key, value).map(([k, v]) => `setvar:tx.${k}=${v}`),
      key.map((k) => `setvar:tx.${k}=+1`),
      key.map((k) => `setvar:!tx.${k}`),
      fc.tuple(key, key).map(([k, j]) => `setvar:tx.${k}=%{tx.${j}}`),
      marker.map((m) => `skipAfter:${m}`),
      fc.constant('skip:1'),
      fc.constant('log,msg:%{MATCHED_VAR}'),
      fc.constant('deny'),
    )
    const effects = fc.array(effect, { minLength: 1, maxLength: 3 }).map((list) => (list.some((e) => e.startsWith('log')) ? list : ['nolog', ...list]).join(','))
    const directive = fc.oneof(
      fc.tuple(phase, effects).map(([p, e]) => (id: number) => `SecAction "id:${id},phase:${p},pass,${e}"`),
      fc.tuple(key, fc.constantFrom('@eq', '@lt', '@ge'), value, phase, effects).map(([k, op, v, p, e]) => (id: number) => `SecRule TX:${k} "${op} ${v}" "id:${id},phase:${p},pass,${e}"`),
      fc.tuple(key, phase, effects).map(([k, p, e]) => (id: number) => `SecRule &TX:${k} "@eq 0" "id:${id},phase:${p},pass,${e}"`),
      fc.tuple(key, key, phase, effects).map(([k, j, p, e]) => (id: number) => `SecRule TX:${k} "@ge %{tx.${j}}" "id:${id},phase:${p},pass,${e}"`),
      fc.tuple(key, value, key, value, phase, effects).map(([k, v, j, w, p, e]) => (id: number) => `SecRule TX:${k} "@eq ${v}" "id:${id},phase:${p},pass,nolog,chain"\n  SecRule TX:${j} "@eq ${w}" "${e.replace(/skipAfter:\w+|skip:1|deny|,?log,msg:[^,]*/g, '').replace(/^,|,$/g, '') || 'nolog'}"`),
      fc.tuple(fc.constantFrom('x', 'y'), phase, effects).map(([a, p, e]) => (id: number) => `SecRule ARGS:a "@streq ${a}" "id:${id},phase:${p},pass,${e}"`),
      fc.tuple(phase, key).map(([p, k]) => (id: number) => `SecRule ARGS:a "@rx ^(x+)" "id:${id},phase:${p},pass,nolog,capture,setvar:tx.${k}=%{tx.1}"`),
      fc.tuple(phase, key).map(([p, k]) => (id: number) => `SecRule ARGS:a "@streq y" "id:${id},phase:${p},pass,nolog,setvar:'tx.%{matched_var}=1',setvar:tx.${k}=%{matched_var}"`),
      fc.constantFrom(1, 2).map((n) => (id: number) => `SecRule ARGS:a "@streq x" "id:${id},phase:1,pass,nolog,ctl:ruleRemoveById=${n + 100}"`),
      marker.map((m) => () => `SecMarker ${m}`),
      fc.constant((id: number) => `SecRule MATCHED_VAR "@rx ." "id:${id},phase:2,pass,log,msg:'last %{MATCHED_VAR}'"`),
    )
    // What TX holds at the end, as matches (rules that log are never folded).
    const report = ['a', 'b', 'c', 'y', '1'].flatMap((k, i) => ['0', '1', '2', 'x', 'y'].map((v, j) => `SecRule TX:${k} "@streq ${v}" "id:${9000 + i * 10 + j},phase:2,pass,log,msg:'${k}=${v}'"`))
    fc.assert(
      fc.property(fc.array(directive, { maxLength: 14 }), fc.constantFrom('', 'x', 'xx', 'y', 'z'), (program, a) => {
        const text = [...program.map((make, i) => make(101 + i)), ...report].join('\n')
        const e = new Engine([{ file: 'p.conf', text }], () => '')
        const plain = unfolded([{ file: 'p.conf', text }])
        const url = `/?a=${a}`
        const got = JSON.stringify(outcome(e, url))
        const want = JSON.stringify(outcome(plain, url))
        if (got !== want) throw new Error(`${url}\n${text}\nfolded:   ${got}\nunfolded: ${want}`)
      }),
      { numRuns: 600 },
    )
  })

  it("the CRS's setup and paranoia-level gates fold, and its verdicts are the same folded as not (Debian's CRS, PL1 and PL2)", () => {
    for (const pl of [1, 2]) {
      const crs = crsSources(DEBIAN_CRS)
      const options = `SecAction "id:99901,phase:1,pass,nolog,setvar:tx.paranoia_level=${pl},setvar:tx.blocking_paranoia_level=${pl},setvar:tx.detection_paranoia_level=${pl},setvar:tx.executing_paranoia_level=${pl}"`
      const sources = [crs[0]!, { file: 'options.conf', text: options }, ...crs.slice(1)]
      const e = new Engine(sources, loadData)
      const plain = unfolded(sources, loadData)
      expect(folded(e)).toBeGreaterThan(50)
      for (const url of ['/', '/search?q=blue+shoes&page=2', "/?id=1'%20OR%20'1'='1", '/?q=<script>alert(1)</script>', '/../../etc/passwd', '/?cmd=;cat%20/etc/passwd', `/?x=$${'{'}jndi:ldap://a/b}`])
        expect(outcome(e, url)).toEqual(outcome(plain, url))
    }
  })
})
