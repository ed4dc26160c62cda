import { describe, expect, it } from 'vitest'
import { Engine } from '../src/engine/engine.js'
import type { WafRequest } from '../src/engine/request-vars.js'
import { txLiteralOf } from '../src/engine/tx-names.js'

const engine = (text: string) => new Engine([{ file: 'rules.conf', text }], () => '')
const request = (url: string, headers: Record<string, string> = {}, method = 'GET'): WafRequest => ({
  method,
  url,
  protocol: 'HTTP/1.1',
  headers: Object.entries({ Host: 'example.com', ...headers }).flat(),
  remoteAddress: '192.0.2.7',
  remotePort: 40000,
})
const ids = (e: Engine, req: WafRequest, body?: string) => e.inspect(req, body).matches.map((m) => m.id)

// Anomaly scoring as the CRS does it: rules add to a score, one rule at the end denies past a threshold.
const SCORING = `
SecDefaultAction "phase:1,log,pass"
SecDefaultAction "phase:2,log,pass"
SecAction "id:1,phase:1,nolog,pass,setvar:tx.threshold=5"
SecRule ARGS "@rx (?i)union\\s+select" "id:10,phase:2,block,t:none,t:urlDecodeUni,capture,msg:'SQLi %{tx.0}',setvar:'tx.score=+5'"
SecRule REQUEST_HEADERS:User-Agent "@pm sqlmap nikto" "id:11,phase:1,block,t:lowercase,setvar:'tx.score=+2'"
SecRule TX:score "@ge %{tx.threshold}" "id:99,phase:2,deny,msg:'score %{tx.score}'"
`

describe('the engine on rules of its own', () => {
  it('scores, then denies past the threshold: matched rules reported with variable, data and message', () => {
    const e = engine(SCORING)
    const v = e.inspect(request('/?q=1%20UNION%20SELECT%20x'))
    expect(v.interruption).toEqual({ id: 99, action: 'deny' })
    expect(v.matches).toEqual([
      expect.objectContaining({ id: 10, variable: 'ARGS:q', data: 'UNION SELECT', msg: 'SQLi UNION SELECT' }),
      expect.objectContaining({ id: 99, variable: 'TX:score', msg: 'score 5' }),
    ])
    const low = e.inspect(request('/', { 'User-Agent': 'SQLMap/1.0' }))
    expect(low.interruption).toBeUndefined()
    expect(low.matches.map((m) => m.id)).toEqual([11])
  })

  it('each rule finds nothing on clean requests, again and again (verdicts remembered per value are still right)', () => {
    const e = engine(SCORING)
    for (let i = 0; i < 3; i++) {
      expect(ids(e, request('/?q=plain'))).toEqual([])
      expect(ids(e, request('/?q=union%20select'))).toEqual([10, 99])
    }
  })

  it('a chain matches only whole; a link reads what the one before set (setvar, capture)', () => {
    const e = engine(`
SecRule REQUEST_HEADERS:Content-Type "@rx ^([^;]+)" "id:20,phase:1,deny,capture,setvar:'tx.ct=|%{tx.1}|',chain"
  SecRule TX:ct "!@within |application/json| |text/plain|" "t:lowercase"`)
    expect(ids(e, request('/', { 'Content-Type': 'application/json; charset=utf-8' }))).toEqual([])
    expect(e.inspect(request('/', { 'Content-Type': 'application/evil' })).interruption?.id).toBe(20)
  })

  it('skipAfter jumps to its marker; SecAction runs once', () => {
    const e = engine(`
SecAction "id:30,phase:1,nolog,pass,setvar:tx.level=1"
SecRule TX:level "@lt 2" "id:31,phase:1,nolog,pass,skipAfter:END-LEVEL-2"
SecRule ARGS "@rx ." "id:32,phase:1,deny"
SecMarker END-LEVEL-2
SecRule ARGS "@streq stop" "id:33,phase:1,deny"`)
    expect(e.inspect(request('/?a=anything')).interruption).toBeUndefined()
    expect(e.inspect(request('/?a=stop')).interruption?.id).toBe(33)
  })

  it("ctl:ruleRemoveTargetById and ctl:ruleRemoveById change only this request's later rules", () => {
    const e = engine(`
SecRule REQUEST_FILENAME "@beginsWith /editor" "id:40,phase:1,nolog,pass,ctl:ruleRemoveTargetById=50;ARGS:body"
SecRule REQUEST_FILENAME "@beginsWith /trusted" "id:41,phase:1,nolog,pass,ctl:ruleRemoveById=50-59"
SecRule ARGS "@rx <script" "id:50,phase:2,deny"`)
    expect(e.inspect(request('/editor?body=<script>')).interruption).toBeUndefined()
    expect(e.inspect(request('/editor?title=<script>')).interruption?.id).toBe(50)
    expect(e.inspect(request('/trusted?title=<script>')).interruption).toBeUndefined()
    expect(e.inspect(request('/other?body=<script>')).interruption?.id).toBe(50)
  })

  it('t:none drops the default transformations; multiMatch tries the value before and after each', () => {
    const e = engine(`
SecDefaultAction "phase:2,log,pass,t:lowercase"
SecRule ARGS:a "@streq ABC" "id:60,phase:2,deny,t:none"
SecRule ARGS:b "@streq %41" "id:61,phase:2,deny,t:urlDecode,multiMatch"`)
    expect(e.inspect(request('/?a=ABC')).interruption?.id).toBe(60)
    expect(e.inspect(request('/?b=%2541')).interruption?.id).toBe(61)
  })

  it('phase 1 stops a request before its body is read; phase 2 reads the body as arguments', () => {
    const e = engine(`
SecRule REQUEST_METHOD "@streq TRACE" "id:70,phase:1,deny"
SecRule ARGS_POST:cmd "@rx rm\\s+-rf" "id:71,phase:2,deny"`)
    const t = e.begin(request('/', {}, 'TRACE'))
    expect(t.run(1)).toBe(false)
    const post = request('/', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'POST')
    expect(e.inspect(post, 'cmd=rm+-rf+%2F').interruption?.id).toBe(71)
    expect(e.inspect({ ...post, headers: ['Content-Type', 'application/json'] }, '{"cmd":"rm -rf /"}').interruption).toBeUndefined()
  })

  it('ctl:ruleEngine=DetectionOnly reports without stopping; allow stops the rules', () => {
    const e = engine(`
SecRule REQUEST_FILENAME "@streq /watch" "id:80,phase:1,nolog,pass,ctl:ruleEngine=DetectionOnly"
SecRule REQUEST_FILENAME "@streq /health" "id:81,phase:1,nolog,allow"
SecRule ARGS "@rx bad" "id:82,phase:2,deny"`)
    const watched = e.inspect(request('/watch?x=bad'))
    expect([watched.interruption, watched.matches.map((m) => m.id)]).toEqual([undefined, [82]])
    expect(e.inspect(request('/health?x=bad')).matches).toEqual([])
  })

  it('reads the request as ModSecurity names it: headers, cookies, filename, basename, line, URI, query, method, protocol, address', () => {
    const e = engine(`
SecRule REQUEST_COOKIES:sid "@streq abc" "id:90,phase:1,pass,log"
SecRule REQUEST_COOKIES_NAMES "@streq sid" "id:91,phase:1,pass,log"
SecRule REQUEST_FILENAME "@streq /a b/c.php" "id:92,phase:1,pass,log"
SecRule REQUEST_BASENAME "@streq c.php" "id:93,phase:1,pass,log"
SecRule REQUEST_LINE "@streq GET /a%20b/c.php?x=1 HTTP/1.1" "id:94,phase:1,pass,log"
SecRule QUERY_STRING "@streq x=1" "id:95,phase:1,pass,log"
SecRule REQUEST_HEADERS_NAMES "@streq X-Test" "id:96,phase:1,pass,log"
SecRule REMOTE_ADDR "@ipMatch 192.0.2.0/24" "id:97,phase:1,pass,log"
SecRule &REQUEST_HEADERS:Host "@eq 1" "id:98,phase:1,pass,log"
SecRule REQUEST_URI_RAW "@streq /a%20b/c.php?x=1" "id:99,phase:1,pass,log"`)
    expect(ids(e, request('/a%20b/c.php?x=1', { Cookie: 'sid=abc; other=1', 'X-Test': '1' }))).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99])
  })

  it('a value no rule matched is left out of later requests, yet a rule reached for the first time later still sees it', () => {
    // Rule 3 reads ARGS like rule 1, but only runs with the header: "foo" is clean for every rule
    // that ran while it did not, and must not stay hidden from rule 3 once it runs.
    const e = engine(`
SecRule ARGS "@rx evil" "id:1,phase:1,pass,log"
SecRule &REQUEST_HEADERS:X-Enable "@eq 0" "id:2,phase:1,pass,nolog,skipAfter:END"
SecRule ARGS "@rx foo" "id:3,phase:1,deny,log"
SecMarker END`)
    for (let i = 0; i < 5; i++) expect(ids(e, request('/?a=foo'))).toEqual([])
    expect(e.inspect(request('/?a=foo', { 'X-Enable': 'yes' })).interruption).toEqual({ id: 3, action: 'deny' })
    expect(ids(e, request('/?a=evil&b=foo'))).toEqual([1])
    expect(ids(e, request('/?a=foo', { 'X-Enable': 'yes' }))).toEqual([3])
  })

  it('a rule passed over while its list is empty runs again once a value comes for it, also after a request that removed it', () => {
    const e = engine(`
SecRule REQUEST_HEADERS:X-Off "@streq 1" "id:1,phase:1,pass,nolog,ctl:ruleRemoveById=3"
SecRule ARGS "@rx evil" "id:2,phase:1,pass,log"
SecRule ARGS "@rx <script" "id:3,phase:1,deny,log"`)
    // Rule 3 (the only one of its set that cannot match a plain value, so the only reader of that
    // list) is removed the first time it is reached: it has not run, so it is not passed over yet.
    expect(e.inspect(request('/?a=%3Cscript', { 'X-Off': '1' })).interruption).toBeUndefined()
    for (let i = 0; i < 5; i++) expect(ids(e, request('/?a=fine'))).toEqual([]) // rule 3 ran, its list is empty now
    expect(e.inspect(request('/?a=fine&b=%3Cscript%3E')).interruption).toEqual({ id: 3, action: 'deny' })
    expect(ids(e, request('/?a=fine'))).toEqual([])
  })

  it('after the body is read, lists made from it are made again and the others are kept', () => {
    const e = engine(`
SecRule ARGS|REQUEST_HEADERS:X-A "@rx evil" "id:1,phase:1,pass,log"
SecRule REQUEST_HEADERS:X-A|ARGS "@rx evil" "id:2,phase:1,pass,log"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx evil" "id:3,phase:2,pass,log"
SecRule REQUEST_HEADERS:X-B "@rx evil" "id:4,phase:1,pass,log"
SecRule REQUEST_HEADERS:X-B "@rx evil" "id:5,phase:2,pass,log"`)
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' }
    for (let i = 0; i < 3; i++) {
      expect(ids(e, request('/?a=fine', form, 'POST'), 'b=evil')).toEqual([3]) // the body's value, in phase 2 only
      expect(ids(e, request('/?a=fine', { ...form, 'X-B': 'evil' }, 'POST'), 'b=fine')).toEqual([4, 5]) // a header, in both
      expect(ids(e, request('/?a=evil', form, 'POST'), 'b=fine')).toEqual([1, 2, 3])
    }
  })

  it('MATCHED_VAR is the value as each rule transformed it, request after request', () => {
    const e = engine(`
SecRule ARGS "@rx a" "id:1,phase:1,pass,log,t:lowercase,msg:'%{MATCHED_VAR}'"
SecRule ARGS "@rx A" "id:2,phase:1,pass,log,t:uppercase,msg:'%{MATCHED_VAR}'"
SecRule ARGS "@rx a" "id:3,phase:1,pass,log,t:lowercase,msg:'%{MATCHED_VAR}'"`)
    for (let i = 0; i < 3; i++) {
      expect(e.inspect(request('/?q=MiXaD')).matches.map((m) => m.msg)).toEqual(['mixad', 'MIXAD', 'mixad'])
    }
  })

  it('a chained rule reading a set its head reads sees values the head passed over before', () => {
    const e = engine(`
SecRule ARGS:go "@streq 1" "id:5,phase:1,pass,log,chain"
  SecRule ARGS "@rx ^bar$" "t:none"
SecRule ARGS "@rx nothing" "id:6,phase:1,pass,log"`)
    for (let i = 0; i < 5; i++) expect(ids(e, request('/?x=bar'))).toEqual([])
    expect(ids(e, request('/?x=bar&go=1'))).toEqual([5])
  })

  it('a rule with a macro in its parameter, reached for the first time later, sees values every other rule of its set passed over', () => {
    // Rule 4's link has no verdicts to keep (its limit comes from TX), so until it runs, "5" is
    // left out of the set's list as clean for rule 1; from its first run on, the list keeps it.
    const e = engine(`
SecAction "id:1,phase:1,pass,nolog,setvar:tx.limit=3"
SecRule ARGS "@rx evil" "id:2,phase:1,pass,log"
SecRule REQUEST_HEADERS:X-Limit "@streq on" "id:4,phase:1,deny,log,chain"
  SecRule ARGS "@gt %{tx.limit}" "t:none"`)
    const list = () => {
      const t = e.begin(request('/?a=5'))
      t.run(1)
      return t.vars.unclean(0, 'ARGS', e.rules.verdicts).map((x) => x.value)
    }
    for (let i = 0; i < 4; i++) expect(ids(e, request('/?a=5'))).toEqual([])
    expect(list()).toEqual([]) // clean for rule 2, the only rule of the set that ran
    expect(e.inspect(request('/?a=5', { 'X-Limit': 'on' })).interruption).toEqual({ id: 4, action: 'deny' })
    expect(ids(e, request('/?a=2', { 'X-Limit': 'on' }))).toEqual([])
    expect(e.inspect(request('/?a=5&b=evil', { 'X-Limit': 'on' })).matches.map((m) => m.id)).toEqual([2, 4])
  })

  it('argument names and headers that come again in the same order are the same list, still judged, also by a rule reached later', () => {
    const e = engine(`
SecRule ARGS_NAMES|REQUEST_HEADERS_NAMES "@rx evil" "id:1,phase:1,pass,log"
SecRule &REQUEST_HEADERS:X-Enable "@eq 0" "id:2,phase:1,pass,nolog,skipAfter:END"
SecRule ARGS_NAMES|REQUEST_HEADERS_NAMES "@rx foo" "id:3,phase:1,deny,log"
SecMarker END`)
    const names = (url: string, headers: Record<string, string> = {}) => e.begin(request(url, headers)).vars.get('ARGS_NAMES')
    for (let i = 0; i < 3; i++) names('/?x=1&y=2') // seen again: kept entries, the list remembered
    const list = names('/?x=3&y=4')
    expect(names('/?x=5&y=6')).toBe(list) // the same names in the same order: the same list
    expect(names('/?y=5&x=6').map((n) => n.value)).toEqual(['y', 'x'])
    expect(names('/?x=5&y=6&z=7').map((n) => n.value)).toEqual(['x', 'y', 'z'])
    for (let i = 0; i < 5; i++) expect(ids(e, request('/?foo=1'))).toEqual([])
    expect(e.inspect(request('/?foo=1', { 'X-Enable': 'yes' })).interruption).toEqual({ id: 3, action: 'deny' })
    for (let i = 0; i < 3; i++) expect(ids(e, request('/?evil=1&foo=2'))).toEqual([1])
    for (let i = 0; i < 3; i++) expect(ids(e, request('/', { 'x-evil': 'x' }))).toEqual([1])
  })

  it('TX read by a name pattern and counted by one', () => {
    // Patterns that are literals (engine/tx-names.ts) and one that is not (/^fo+_/): /^FOO_/ is a
    // prefix (names are lower case), /foo_/ is not: xfoo_c only matches the second.
    const e = engine(`
SecAction "id:1,phase:1,pass,nolog,setvar:tx.foo_a=1,setvar:tx.FOO_B=2,setvar:tx.bar=3,setvar:tx.xfoo_c=2"
SecRule &TX:/^foo_/ "@eq 2" "id:2,phase:1,pass,log"
SecRule TX:/^FOO_/ "@streq 2" "id:3,phase:1,pass,log,msg:'%{MATCHED_VAR_NAME}'"
SecRule TX:/foo_/ "@streq 2" "id:5,phase:1,pass,log,setvar:tx.hits=+1"
SecRule TX:hits "@eq 2" "id:6,phase:1,pass,log"
SecRule &TX:/OO_.*/ "@eq 3" "id:7,phase:1,pass,log"
SecRule &TX:/^xfoo_c*/ "@eq 1" "id:8,phase:1,pass,log"
SecRule &TX:/^fo+_/ "@eq 2" "id:9,phase:1,pass,log"
SecRule &TX "@eq 5" "id:4,phase:1,pass,log"`)
    const v = e.inspect(request('/'))
    expect(v.matches.map((m) => m.id)).toEqual([2, 3, 5, 6, 7, 8, 9, 4])
    expect(v.matches[1]).toMatchObject({ variable: 'TX:foo_b', msg: 'TX:foo_b' })
  })
})

describe('TX name patterns read as literals', () => {
  const literal = (source: string) => txLiteralOf({ collection: 'TX', key: new RegExp(source, 'i'), exclude: false, count: false })
  it('takes a literal at the start or anywhere, less a last x* or .*, and leaves every other regex alone', () => {
    expect(literal('^header_name_')).toEqual({ text: 'header_name_', anchored: true })
    expect(literal('MULTIPART_HEADERS_CONTENT_TYPES_*')).toEqual({ text: 'multipart_headers_content_types', anchored: false })
    expect(literal('paramcounter_.*')).toEqual({ text: 'paramcounter_', anchored: false })
    for (const other of ['^fo+_', 'a.b', 'a*', '^a|b', 'ab$', '\\w+', '(ab)']) expect(literal(other)).toBeUndefined()
    expect(txLiteralOf({ collection: 'ARGS', key: /^a/i, exclude: false, count: false })).toBeUndefined()
    expect(txLiteralOf({ collection: 'TX', key: /^a/, exclude: false, count: false })).toBeUndefined()
  })
})
