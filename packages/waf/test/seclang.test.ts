import { describe, expect, it } from 'vitest'
import { Engine } from '../src/engine/engine.js'
import { WafRuleError } from '../src/errors.js'
import { translatePcre } from '../src/regex/pcre.js'
import { lex } from '../src/seclang/lexer.js'
import { parse } from '../src/seclang/parser.js'

const engine = (text: string, data: Record<string, string> = {}) =>
  new Engine([{ file: 'site.conf', text }], (name) => {
    if (data[name] === undefined) throw new WafRuleError(`the data file ${name} cannot be read`)
    return data[name]!
  })
const fails = (text: string) => {
  try {
    engine(text)
  } catch (err) {
    return err as WafRuleError
  }
  throw new Error('no error')
}

describe('SecLang: read as ModSecurity reads it', () => {
  it('lexes continuations, quotes and comments, each directive with its first line', () => {
    const d = lex('# c\nSecRule ARGS "@rx a b" \\\n  "id:1,\\\n  deny"\n\nSecMarker END\n', 'f.conf')
    expect(d).toEqual([
      { name: 'SecRule', args: ['ARGS', '@rx a b', 'id:1,  deny'], file: 'f.conf', line: 2 },
      { name: 'SecMarker', args: ['END'], file: 'f.conf', line: 6 },
    ])
  })

  it('parses targets (!, &, keys, /regex/ keys, XML XPath), operators and quoted action values', () => {
    const [rule] = parse(lex(`SecRule ARGS|!ARGS:Pass|&TX:x|REQUEST_COOKIES:/^__utm/|XML:/* "!@eq 0" "id:2,msg:'a, b',t:none"`, 'f'))
    expect(rule).toMatchObject({
      kind: 'rule',
      operator: { name: 'eq', negated: true, param: '0' },
      actions: [
        { name: 'id', value: '2' },
        { name: 'msg', value: 'a, b' },
        { name: 't', value: 'none' },
      ],
    })
    const vars = (rule as unknown as { variables: { collection: string; key: unknown; exclude: boolean; count: boolean }[] }).variables
    expect(vars.map((v) => [v.collection, v.key instanceof RegExp ? v.key.source : v.key, v.exclude, v.count])).toEqual([
      ['ARGS', undefined, false, false],
      ['ARGS', 'pass', true, false],
      ['TX', 'x', false, true],
      ['REQUEST_COOKIES', '^__utm', false, false],
      ['XML', '/*', false, false],
    ])
  })

  it('a bad rule is a typed error naming the file and line', () => {
    for (const [text, pattern] of [
      ['SecRule ARGS "@rx a" "phase:2,deny"', /site\.conf:1: the rule has no id/],
      ['\nSecRule ARGS "@nope a" "id:1"', /site\.conf:2: @nope is not an operator/],
      ['SecRule ARGS "@rx a" "id:1,t:rot13"', /t:rot13 is not a transformation/],
      ['SecRule NOPE "@rx a" "id:1"', /NOPE is not a variable/],
      ['SecRule ARGS "@rx a" "id:1,frobnicate"', /frobnicate is not an action/],
      ['SecRule ARGS "@rx a" "id:1,chain"', /a chain is left open/],
      ['SecRule ARGS "@rx a" "id:1,msg:\'open"', /is not closed/],
      ['SecRule ARGS "@rx a" "id:1"\nSecRule ARGS "@rx b" "id:1"', /site\.conf:2: rule id 1 is used twice/],
      ['SecFrobnicate On', /SecFrobnicate is not a directive/],
      ['SecRule ARGS "@pmFromFile none.data" "id:1"', /site\.conf:1: .*none\.data/],
    ] as const) {
      const err = fails(text)
      expect(err).toBeInstanceOf(WafRuleError)
      expect(err.code).toBe('SWY_ERR_WAF_RULE')
      expect(err.message).toMatch(pattern)
      expect(err.file).toBe('site.conf')
    }
  })

  it('a rule the engine cannot run is listed by id, never skipped in silence', () => {
    const e = engine('SecRule REMOTE_ADDR "@rbl sbl.example" "id:10,deny"\nSecRule ARGS "@rx (?<=a)+" "id:11,deny"\nSecRule ARGS "@rx ok" "id:12,deny"')
    expect(e.rules.unsupported.map((u) => [u.id, u.file, u.line])).toEqual([
      [10, 'site.conf', 1],
      [11, 'site.conf', 2],
    ])
    expect(e.rules.unsupported[0]!.reason).toMatch(/@rbl is not run/)
  })

  it('translates PCRE into JavaScript: inline flags, possessive and atomic forms, \\x{..}, POSIX classes, \\Q…\\E, \\A and \\z', () => {
    const run = (p: string, s: string) => {
      const { source, flags } = translatePcre(p)
      return new RegExp(source, flags).test(s)
    }
    expect(run('(?i)SELECT', 'select')).toBe(true)
    expect(run('a++b', 'aaab')).toBe(true)
    expect(run('(?>ab)c', 'abc')).toBe(true)
    expect(run('\\x{3c}', '<')).toBe(true)
    expect(run('[[:digit:]]+', 'x12')).toBe(true)
    expect(run('\\Qa.b\\E', 'axb')).toBe(false)
    expect(run('\\Aab\\z', 'ab')).toBe(true)
    expect(run('(?s)a.b', 'a\nb')).toBe(true)
  })

  it('SecRuleRemoveById and SecRuleUpdateTargetById apply to every rule, wherever they stand', () => {
    const e = engine('SecRuleRemoveById 20\nSecRuleUpdateTargetById 21 "!ARGS:ok"\nSecRule ARGS "@rx x" "id:20,deny"\nSecRule ARGS "@rx y" "id:21,deny"')
    expect(e.rules.byId.has(20)).toBe(false)
    expect(e.rules.byId.get(21)!.excludes.map((v) => v.key)).toEqual(['ok'])
  })
})
