import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jsonLine, LineBatch } from '../src/log-batch.js'

describe('an access-log line, built without a serializer', () => {
  it('is JSON holding the request as it was, whatever its method, path and upstream (fuzzed)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ maxLength: 20 }), fc.double({ min: 0, max: 1e6, noNaN: true }), (method, path, upstream, ms) => {
        const line = jsonLine({ method, path, status: 200, attempts: [{ upstream, ms } as never], ms, bytes: 1 } as never, '"request"', 5)
        expect(line.endsWith('}\n')).toBe(true)
        expect(JSON.parse(line)).toMatchObject({ method, path, upstream, level: 30, time: 5, msg: 'request' })
      }),
      { numRuns: 500 },
    )
  })

  it('is batched into one write of every line, in order, flat', () => {
    const writes: string[] = []
    const batch = new LineBatch({ write: (s) => writes.push(s) }, 100, 1_000, { setTimeout: () => 1, clearTimeout: () => {} })
    for (let i = 0; i < 20; i++) batch.add(`line ${i}\n`)
    batch.flush()
    expect(writes.join('')).toBe(Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join(''))
    expect(writes.length).toBe(2) // 100 characters reached once, then the rest on flush()
  })
})
