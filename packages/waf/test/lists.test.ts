import { describe, expect, it } from 'vitest'
import { Entry } from '../src/engine/entry.js'
import { ListBuilder, NO_ENTRIES } from '../src/engine/lists.js'

const e = (v: string) => new Entry('ARGS', 'a', v)

describe('ListBuilder (engine/lists.ts)', () => {
  it('gives what it was given, at that length, and starts empty again', () => {
    const b = new ListBuilder()
    const [x, y, z] = [e('1'), e('2'), e('3')]
    b.add(x)
    b.add(y)
    b.add(z)
    const first = b.take()
    expect(first).toEqual([x, y, z])
    expect(first.length).toBe(3)
    b.add(y)
    const second = b.take()
    expect(second).toEqual([y]) // the third slot it still holds is not given out
    expect(first).toEqual([x, y, z]) // a list taken is its own
  })

  it('gives the one frozen empty list for nothing, and clear drops a fill cut short', () => {
    const b = new ListBuilder()
    expect(b.take()).toBe(NO_ENTRIES)
    expect(() => (NO_ENTRIES as Entry[]).push(e('x'))).toThrow(TypeError)
    b.add(e('left over'))
    b.clear()
    expect(b.length).toBe(0)
    expect(b.take()).toBe(NO_ENTRIES)
  })
})
