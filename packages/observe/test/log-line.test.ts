import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jsonLine, LineBatch, msText, round } from '../src/log-batch.js'

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

  it('writes durations as round() gives them, in JSON number syntax (fuzzed)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ min: 0, max: 2e6, noNaN: true }), fc.integer({ min: 0, max: 5_000_000 }).map((us) => us / 1000)), (ms) => {
        const text = msText(ms)
        expect(text).toMatch(/^(0|[1-9]\d*)(\.\d*[1-9])?$|e/)
        expect(Number(text)).toBe(round(ms))
      }),
      { numRuns: 2_000 },
    )
    expect([0, 0.5, 0.05, 0.001, 1.23, 12, 0.1234, 1073741.9, 1e9].map(msText)).toEqual(['0', '0.5', '0.05', '0.001', '1.23', '12', '0.123', '1073741.9', '1000000000'])
  })

  it('is batched into one write of every line, in order, flat; lines made 64 requests at a time or at the flush', () => {
    const writes: string[] = []
    const made: number[] = []
    const format = (t: { status: number }, time: number) => {
      made.push(t.status)
      return `line ${t.status} ${time}\n`
    }
    const batch = new LineBatch({ write: (s) => writes.push(s) }, 1_000, 1_000, format as never, { setTimeout: () => 1, clearTimeout: () => {} })
    for (let i = 0; i < 200; i++) batch.add({ status: i } as never, 5)
    // The first line is made at once (its length is not known before); then 64 at a time, or as
    // many as fill the 1 000 characters, judged by the lines made so far.
    expect(200 - made.length).toBeLessThan(64)
    expect(writes.length).toBeGreaterThanOrEqual(1)
    // Each write holds at least the buffer's size; what waits is less than it.
    for (const w of writes) expect(w.length).toBeGreaterThanOrEqual(1_000)
    const written = writes.length
    batch.flush()
    expect(made.length).toBe(200)
    expect(writes.join('')).toBe(Array.from({ length: 200 }, (_, i) => `line ${i} 5\n`).join(''))
    expect(writes.length).toBe(written + 1)
  })

  it('with bufferBytes 0, writes each line as its request ends', () => {
    const writes: string[] = []
    const batch = new LineBatch({ write: (s) => writes.push(s) }, 0, 1_000, ((t: { status: number }) => `${t.status}\n`) as never)
    batch.add({ status: 1 } as never, 0)
    batch.add({ status: 2 } as never, 0)
    expect(writes).toEqual(['1\n', '2\n'])
  })
})
