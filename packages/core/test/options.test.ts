import { createBalancer, DuplicateUpstreamError, InvalidOptionError } from '@switchyard/core'
import { describe, expect, it } from 'vitest'

function thrown(fn: () => unknown): InvalidOptionError {
  try {
    fn()
  } catch (err) {
    return err as InvalidOptionError
  }
  throw new Error('expected a throw')
}

describe('createBalancer() option validation', () => {
  it.each([
    [{ upstreams: [] }, 'upstreams', /non-empty array/],
    [{ upstreams: 'http://x' }, 'upstreams', /non-empty array/],
    [{ upstreams: ['not a url'] }, 'upstreams[0].url', /not a valid URL, got "not a url"/],
    [{ upstreams: ['ftp://127.0.0.1:21'] }, 'upstreams[0].url', /must use http: or https:/],
    [{ upstreams: [{ url: 'http://a:1', weight: 0 }] }, 'upstreams[0].weight', /integer >= 1, got 0 \(number\)/],
    [{ upstreams: ['http://a:1', { url: 'http://b:1', weight: -2 }] }, 'upstreams[1].weight', /got -2 \(number\)/],
    [{ upstreams: [{ url: 'http://a:1', weight: 1.5 }] }, 'upstreams[0].weight', /integer/],
    [{ upstreams: [{ url: 'http://a:1', wieght: 2 }] }, 'upstreams[0].wieght', /did you mean upstreams\[0\]\.weight/],
    [{ upstreams: [{ url: 'http://a:1', maxConnections: 0 }] }, 'upstreams[0].maxConnections', /integer >= 1/],
    [{ upstreams: ['http://a:1'], strategy: {} }, 'strategy', /strategy object/],
    [{ upstreams: ['http://a:1'], retry: { attempts: 0 } }, 'retry.attempts', /integer >= 1/],
    [{ upstreams: ['http://a:1'], timeouts: { headers: -1 } }, 'timeouts.headers', /> 0/],
    [{ upstreams: ['http://a:1'], timeouts: { conect: 1 } }, 'timeouts.conect', /did you mean timeouts\.connect/],
    [{ upstreams: ['http://a:1'], passive: { maxFails: -1 } }, 'passive.maxFails', /integer >= 0/],
    [{ upstreams: ['http://a:1'], queue: { size: 'big' } }, 'queue.size', /got "big" \(string\)/],
    [{ upstreams: ['http://a:1'], strategi: {} }, 'strategi', /did you mean strategy/],
    [{ upstreams: ['http://a:1'], pool: { connections: -1 } }, 'pool', /invalid connections/],
    [{ upstreams: ['http://a:1'], pool: { keepAliveTimeout: -5 } }, 'pool', /keepAliveTimeout/],
    [{ upstreams: ['http://a:1'], breaker: { resetTimout: 5 } }, 'breaker.resetTimout', /did you mean breaker\.resetTimeout/],
    [{ upstreams: ['http://a:1'], timeouts: { clientBody: 0 } }, 'timeouts.clientBody', /> 0/],
    [{ upstreams: ['http://a:1'], underscoresInHeaders: 'yes' }, 'underscoresInHeaders', /boolean/],
    [{ upstreams: ['http://a:1'], clock: { now: () => 0 } }, 'clock.setTimeout', /must be a function/],
    [{ upstreams: ['http://a:1'], random: 0.5 }, 'random', /function/],
    [{ upstreams: ['http://a:1'], hideHeaders: ['bad name'] }, 'hideHeaders', /list of header names/],
  ])('%j → %s', (options, field, message) => {
    const err = thrown(() => createBalancer(options as never))
    expect(err).toBeInstanceOf(InvalidOptionError)
    expect(err.code).toBe('SWY_ERR_INVALID_OPTION')
    expect(err.field).toBe(field)
    expect(err.message).toMatch(message)
  })

  it('rejects a bad trustProxy at createBalancer(), naming the entry', () => {
    const err = thrown(() => createBalancer({ upstreams: ['http://127.0.0.1:5000'], trustProxy: ['10.0.0.0/8', '10.0.0.300'] }))
    expect(err.code).toBe('SWY_ERR_INVALID_OPTION')
    expect(err.field).toBe('trustProxy[1]')
    expect(thrown(() => createBalancer({ upstreams: ['http://127.0.0.1:5000'], trustProxy: -1 })).field).toBe('trustProxy')
  })

  it('rejects duplicate upstreams by id (the origin by default)', () => {
    const err = thrown(() => createBalancer({ upstreams: ['http://127.0.0.1:5000', 'http://127.0.0.1:5000/'] }))
    expect(err).toBeInstanceOf(DuplicateUpstreamError)
    expect(err.code).toBe('SWY_ERR_DUPLICATE_UPSTREAM')
  })

  it('accepts two upstreams on one origin with distinct ids, and never writes into the options', async () => {
    const options = Object.freeze({
      upstreams: Object.freeze([
        Object.freeze({ url: 'http://127.0.0.1:5000', id: 'a' }),
        Object.freeze({ url: 'http://127.0.0.1:5000', id: 'b', weight: 2 }),
      ]),
      passive: Object.freeze({ maxFails: 0 }),
    })
    const lb = createBalancer(options)
    expect(lb.upstreams.map((u) => [u.id, u.weight, u.state])).toEqual([
      ['a', 1, 'up'],
      ['b', 2, 'up'],
    ])
    await lb.close()
  })

  it('remove() and add() after close() reject with ClosedError, not an undici error', async () => {
    const lb = createBalancer({ upstreams: ['http://127.0.0.1:5000'] })
    await lb.close()
    await expect(lb.remove('http://127.0.0.1:5000')).rejects.toMatchObject({ code: 'SWY_ERR_CLOSED' })
    expect(() => lb.add('http://127.0.0.1:5001')).toThrow(expect.objectContaining({ code: 'SWY_ERR_CLOSED' }))
  })

  it('lists down upstreams as down, with defaults filled in', async () => {
    const lb = createBalancer({ upstreams: ['http://127.0.0.1:5000', { url: 'http://127.0.0.1:5001', down: true }] })
    const [a, b] = lb.upstreams
    expect(a).toMatchObject({ id: 'http://127.0.0.1:5000', weight: 1, backup: false, state: 'up', breaker: 'closed' })
    expect(b).toMatchObject({ state: 'down', down: true, reason: 'configured' })
    await lb.close()
  })
})
