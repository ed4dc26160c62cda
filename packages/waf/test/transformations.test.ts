import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TRANSFORMATIONS } from '../src/transformations/index.js'

const t = (name: string, input: string) => {
  const fn = TRANSFORMATIONS.get(name.toLowerCase())
  if (fn === undefined) throw new Error(`no t:${name}`)
  return fn(input)
}

// Each transformation on inputs chosen to show what it does and what it leaves; values are byte
// strings (one char a byte), as the engine reads requests.
describe('transformations', () => {
  it.each([
    ['lowercase', 'SeLeCT', 'select'],
    ['uppercase', 'abc', 'ABC'],
    ['urlDecode', 'a%20b+c%2', 'a b c%2'],
    ['urlDecodeUni', '%u003cscript%3E+x', '<script> x'],
    ['urlDecodeUni', '%uff1c', '<'],
    ['jsDecode', '\\x3cscript\\u003e\\101\\n', '<script>A\n'],
    ['htmlEntityDecode', '&lt;a&#62;&#x3c;&quot;&nbsp;', '<a><"\xa0'],
    ['cssDecode', 'ja\\vascript\\3a', 'javascript:'],
    ['cmdLine', "C^at /E\\TC/pa''sswd;  Id", 'cat/etc/passwd id'],
    ['utf8toUnicode', 'caf\xc3\xa9', 'caf%u00e9'],
    ['removeWhitespace', ' a\tb \nc ', 'abc'],
    ['compressWhitespace', 'a  \t b\n\nc', 'a b c'],
    ['trim', '  a b  ', 'a b'],
    ['removeNulls', 'a\0b\0', 'ab'],
    ['replaceNulls', 'a\0b', 'a b'],
    ['replaceComments', 'un/**/ion /*x*/sel/*', 'un ion  sel '],
    ['removeCommentsChar', 'un/**/ion--#x', 'unionx'],
    ['base64Decode', 'PHNjcmlwdD4=', '<script>'],
    ['base64Encode', 'ab', 'YWI='],
    ['normalizePath', '/a/./b/../../etc//passwd', '/etc/passwd'],
    ['normalizePathWin', '\\a\\..\\windows\\win.ini', '/windows/win.ini'],
    ['hexEncode', 'a<', '613c'],
    ['hexDecode', '613c', 'a<'],
    ['sqlHexDecode', '0x414243', 'ABC'],
    ['escapeSeqDecode', '\\x41\\n\\101', 'A\nA'],
    ['length', 'abcd', '4'],
    ['sha1', 'abc', Buffer.from('a9993e364706816aba3e25717850c26c9cd0d89d', 'hex').toString('latin1')],
    ['md5', 'abc', Buffer.from('900150983cd24fb0d6963f7d28e17f72', 'hex').toString('latin1')],
  ])('t:%s(%j) is %j', (name, input, output) => {
    expect(t(name, input)).toBe(output)
  })

  it('leaves what it does not transform as it is (the same string, no copy)', () => {
    const s = 'plain text'
    for (const name of ['urlDecode', 'urlDecodeUni', 'jsDecode', 'htmlEntityDecode', 'removeNulls']) expect(t(name, s)).toBe(s)
  })

  it('t:base64Decode decodes as Node does, up to the first char that is not base64 (short runs decoded in place, long ones by Node)', () => {
    const node = (s: string) => Buffer.from(/^[A-Za-z0-9+/]*/.exec(s)![0], 'base64').toString('latin1')
    const char = fc.oneof(fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'), fc.constantFrom('=', '-', '_', ' ', '.', '%', '\xe9', '\0'))
    fc.assert(
      fc.property(fc.array(char, { maxLength: 100 }), (a) => {
        const s = a.join('')
        expect(t('base64Decode', s)).toBe(node(s))
      }),
      { numRuns: 3000 },
    )
    for (const s of ['', 'Q', 'QQ', 'QUI', 'QUJD', 'QUJDRA', 'QUJDRA==x', 'A-12345', 'x'.repeat(65), 'QUJD'.repeat(40)]) expect(t('base64Decode', s), s).toBe(node(s))
  })

  it('never throws, whatever the bytes (every transformation on random byte strings)', () => {
    let seed = 7
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256)
    for (let n = 0; n < 300; n++) {
      const s = String.fromCharCode(...Array.from({ length: n % 40 }, rand))
      for (const fn of TRANSFORMATIONS.values()) expect(typeof fn(s)).toBe('string')
    }
  })
})
