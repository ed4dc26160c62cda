import { addressMatcher, canonicalAddress, forwardedClient, normalizeTrustProxy } from '@switchyard/strategies'
import { describe, expect, it } from 'vitest'

describe('addressMatcher', () => {
  it('answers the same for a remembered address, and stays right past its memo bound', () => {
    const inTen = addressMatcher(['10.0.0.0/8', 'loopback'], 'allow')
    expect([inTen('10.1.2.3'), inTen('10.1.2.3'), inTen('11.1.2.3'), inTen('11.1.2.3'), inTen('::1'), inTen('::ffff:10.0.0.1')]).toEqual([
      true,
      true,
      false,
      false,
      true,
      true,
    ])
    // 25 000 distinct addresses (the memo keeps 10 000, then starts over): every answer still right.
    let wrong = 0
    for (let i = 0; i < 25_000; i++) {
      const a = `${i % 2 === 0 ? 10 : 11}.0.${(i >> 8) & 255}.${i & 255}`
      if (inTen(a) !== (i % 2 === 0)) wrong++
    }
    expect(wrong).toBe(0)
    expect([inTen('10.1.2.3'), inTen('11.1.2.3'), inTen('not an address')]).toEqual([true, false, false])
  })
})

describe('canonicalAddress and forwardedClient: one string per address (issue 22)', () => {
  const cases: Array<[string, string | undefined]> = [
    ['1.2.3.4', '1.2.3.4'],
    ['001.002.003.004', undefined], // zero-padded: no proxy writes it
    ['010.0.0.1', undefined], // octal to some parsers
    ['0x7f.1', undefined],
    ['256.1.1.1', undefined],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['fe80::1%eth0', 'fe80::1'],
    [`fe80::1%${'z'.repeat(8_000)}`, undefined],
    ['', undefined],
    ['unknown', undefined],
  ]
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text.slice(0, 24))} → ${JSON.stringify(expected)}`, () => {
      expect(canonicalAddress(text)).toBe(expected)
    })
  }

  it('a trusted proxy’s X-Forwarded-For gives the canonical client; a forged form stops the walk at the proxy', () => {
    const trust = normalizeTrustProxy(true)
    expect(forwardedClient('10.0.0.1', '2001:DB8::0:1', trust)).toBe('2001:db8::1')
    expect(forwardedClient('10.0.0.1', '001.002.003.004', trust)).toBe('10.0.0.1')
    expect(forwardedClient('10.0.0.1', `fe80::1%${'z'.repeat(8_000)}`, trust)).toBe('10.0.0.1')
    expect(forwardedClient('10.0.0.1', 'fe80::1%eth0, 192.0.2.7', trust)).toBe('fe80::1') // everyone trusted: the left-most, zone dropped
  })
})
