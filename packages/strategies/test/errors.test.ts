import { InvalidOptionError, SwitchyardError } from '@switchyard/strategies'
import { describe, expect, it } from 'vitest'

describe('SwitchyardError', () => {
  it('carries code, field, statusCode and cause', () => {
    const cause = new Error('root')
    const err = new InvalidOptionError('bad', { field: 'upstreams[0].url', cause, statusCode: 400 })
    expect(err.code).toBe('SWY_ERR_INVALID_OPTION')
    expect(err.field).toBe('upstreams[0].url')
    expect(err.statusCode).toBe(400)
    expect(err.cause).toBe(cause)
    expect(err.name).toBe('InvalidOptionError')
    expect(err).toBeInstanceOf(Error)
  })

  it('matches instanceof by brand and code, across copies of the class', () => {
    const err = new InvalidOptionError('bad')
    expect(err instanceof SwitchyardError).toBe(true)
    expect(err instanceof InvalidOptionError).toBe(true)
    class OtherError extends SwitchyardError {
      static override readonly code = 'SWY_ERR_OTHER'
    }
    expect(err instanceof OtherError).toBe(false)
    // A copy from a second install: same brand and code, different class object.
    const copy = Object.assign(Object.create(Error.prototype), { code: 'SWY_ERR_INVALID_OPTION' })
    Object.defineProperty(copy, Symbol.for('switchyard.error'), { value: true })
    expect(copy instanceof InvalidOptionError).toBe(true)
    expect(new Error('x') instanceof SwitchyardError).toBe(false)
  })
})
