import { addressMatcher } from '@switchyard/strategies'
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
