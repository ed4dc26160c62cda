import { describe, expect, it } from 'vitest'
import { detectSql } from '../src/operators/detect-sqli.js'
import { detectHtml } from '../src/operators/detect-xss.js'
import { OPERATORS, type OperatorScope } from '../src/operators/index.js'

const captured: (string | undefined)[][] = []
const scope: OperatorScope = { expand: (t) => t.replace('%{tx.list}', 'GET POST'), setCaptures: (g) => void captured.push([...g]) }
const files: Record<string, string> = { 'words.data': '# a comment\nsleep\n\nbenchmark\n', 'nets.data': '10.0.0.0/8\n# x\n192.168.1.1\n' }
const op = (name: string, param: string) => {
  const factory = OPERATORS.get(name.toLowerCase())
  if (factory === undefined) throw new Error(`no @${name}`)
  return factory(param, (f) => files[f] ?? '')
}
const run = (name: string, param: string, input: string, capture = false) => op(name, param)(input, scope, capture)

describe('operators: the matched data, or null', () => {
  it.each([
    ['rx', '(?i)un(ion)\\s+select', 'x UNION select', 'UNION select'],
    ['rx', '^\\d+$', '12a', null],
    ['rx', '(?:\\x{41}){2}', 'xAAx', 'AA'],
    ['pm', 'union select sleep', 'a SELECT b', 'select'],
    ['pm', 'union select', 'nothing here', null],
    ['pmFromFile', 'words.data', 'call BENCHMARK(1)', 'benchmark'],
    ['streq', 'GET', 'GET', 'GET'],
    ['streq', 'GET', 'get', null],
    ['contains', 'etc/pass', '/etc/passwd', 'etc/pass'],
    ['containsWord', 'select', 'a select b', 'select'],
    ['containsWord', 'select', 'selection', null],
    ['beginsWith', '/admin', '/admin/x', '/admin/x'],
    ['endsWith', '.php', 'x.php', 'x.php'],
    ['within', '%{tx.list}', 'POST', 'POST'],
    ['within', 'GET POST', 'PUT', null],
    ['eq', '0', '0', '0'],
    ['gt', '5', '6', '6'],
    ['ge', '5', '5', '5'],
    ['lt', '2', '1', '1'],
    ['le', '2', '3', null],
    ['validateByteRange', '32-126', 'ok text', null],
    ['validateByteRange', '32-126', 'bad\x01', '\x01'],
    ['validateUrlEncoding', '', 'a%2x', '%2x'],
    ['validateUrlEncoding', '', 'a%20b', null],
    ['validateUtf8Encoding', '', 'caf\xc3\xa9', null],
    ['validateUtf8Encoding', '', 'caf\xc3(', '\xc3('],
    ['validateUtf8Encoding', '', '\xc0\xaf', '\xc0'],
    ['ipMatch', '10.0.0.0/8,192.168.1.1', '10.2.3.4', '10.2.3.4'],
    ['ipMatch', '10.0.0.0/8', '11.0.0.1', null],
    ['ipMatchFromFile', 'nets.data', '192.168.1.1', '192.168.1.1'],
    ['unconditionalMatch', '', 'x', 'x'],
    ['noMatch', '', 'x', null],
  ])('@%s %j on %j', (name, param, input, expected) => {
    expect(run(name, param, input)).toBe(expected)
  })

  it('@rx with capture sets TX.0 (the match) and TX.1… (the groups)', () => {
    captured.length = 0
    run('rx', '(\\w+)=(\\d+)', 'a id=42', true)
    expect(captured[0]!.slice(0, 3)).toEqual(['id=42', 'id', '42'])
  })

  it('@rx with a macro compiles each expansion once', () => {
    const o = op('rx', '^%{tx.list}$')
    expect(o('GET POST', scope, false)).toBe('GET POST')
    expect(o('GET', scope, false)).toBeNull()
  })
})

describe('@detectSQLi: SQL taking over a query, read in three contexts', () => {
  it.each([
    "1' or '1'='1",
    '1 OR 1=1',
    "admin'--",
    '1 union select password from users',
    '-1; drop table users',
    '1 AND SLEEP(5)',
    "x' AND extractvalue(1,concat(0x7e,version()))--",
    'SELECT name, email FROM users',
    '@@version',
    '1) or (1=1',
    "'; exec xp_cmdshell 'dir'--",
  ])('flags %j', (input) => {
    expect(detectSql(input)).not.toBeNull()
  })

  it.each([
    "O'Reilly books",
    "don't stop believing",
    'select the best laptop',
    'rock and roll',
    'drop shipping business',
    '1 + 1 = 2',
    '2026-12-31',
    'union station to downtown',
    'update my address',
    "it's a dog's life",
    'tom & jerry',
    'print(hello)',
  ])('lets %j through', (input) => {
    expect(detectSql(input)).toBeNull()
  })

  it('captures the fingerprint (the token types) as TX.0', () => {
    captured.length = 0
    expect(run('detectSQLi', '', '1 union select 2', true)).toBe('1 union select 2')
    expect(captured[0]![0]).toMatch(/^1UE/)
  })
})

describe('@detectXSS: script a browser would run, in text or in an attribute value', () => {
  it.each([
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '<svg/onload=alert(1)>',
    '"><iframe src=//evil>',
    '" onmouseover="alert(1)',
    "' autofocus onfocus='x",
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href=javascript:alert(1)>',
    '<div style="width: expression(alert(1))">',
    '<object data="data:text/html;base64,PHNjcmlwdD4=">',
  ])('flags %j', (input) => {
    expect(detectHtml(input)).not.toBeNull()
  })

  it.each([
    'a < b and c > d',
    '<p>Hello <b>world</b></p>',
    'I <3 you',
    'see https://example.com/page?a=1',
    'the onion router',
    '<a href="https://example.com">link</a>',
    'x = y + 1',
  ])('lets %j through', (input) => {
    expect(detectHtml(input)).toBeNull()
  })
})
