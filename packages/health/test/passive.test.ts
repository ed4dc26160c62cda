import { InvalidOptionError } from '@switchyard/strategies'
import { normalizePassive, PassiveHealth } from '@switchyard/health/internal'
import { describe, expect, it } from 'vitest'

describe('PassiveHealth (nginx max_fails / fail_timeout)', () => {
  it('takes the upstream out on the maxFails-th failure within failTimeout, for failTimeout', () => {
    const p = new PassiveHealth(normalizePassive({ maxFails: 3, failTimeout: 1_000 }))
    expect(p.recordFailure(0)).toBe(0)
    expect(p.recordFailure(400)).toBe(0)
    expect(p.recordFailure(900)).toBe(1_900)
    expect(p.isAvailable(1_899)).toBe(false)
    expect(p.isAvailable(1_900)).toBe(true)
  })

  it('starts counting again when the window has passed', () => {
    const p = new PassiveHealth(normalizePassive({ maxFails: 2, failTimeout: 1_000 }))
    expect(p.recordFailure(0)).toBe(0)
    expect(p.recordFailure(1_500)).toBe(0) // the first failure is out of the window
    expect(p.recordFailure(2_000)).toBe(3_000)
  })

  it('resets the count on success', () => {
    const p = new PassiveHealth(normalizePassive({ maxFails: 2, failTimeout: 1_000 }))
    p.recordFailure(0)
    p.recordSuccess()
    expect(p.recordFailure(10)).toBe(0)
    expect(p.fails).toBe(1)
  })

  it('is off with maxFails 0 or false', () => {
    for (const options of [{ maxFails: 0 }, false] as const) {
      const p = new PassiveHealth(normalizePassive(options))
      expect(p.isEnabled).toBe(false)
      for (let i = 0; i < 10; i++) expect(p.recordFailure(i)).toBe(0)
    }
  })

  it('counts listed statuses as failures', () => {
    const p = new PassiveHealth(normalizePassive({ failOnStatus: [502, 503] }))
    expect(p.isFailureStatus(503)).toBe(true)
    expect(p.isFailureStatus(500)).toBe(false)
  })

  it('rejects bad options by path', () => {
    expect(() => normalizePassive({ maxFails: -1 })).toThrow(InvalidOptionError)
    expect(() => normalizePassive({ failTimeout: 0 })).toThrow(/passive.failTimeout/)
    expect(() => normalizePassive({ failOnStatus: [99] })).toThrow(/failOnStatus/)
    expect(() => normalizePassive({ maxFail: 1 })).toThrow(/did you mean passive.maxFails/)
  })
})
