import { describe, expect, it } from 'vitest'
import { ASTERISK, climbsAboveRoot, isValidHost, originForm } from '../src/entry/request-target.js'

describe('originForm', () => {
  const table: Array<[string, string | undefined]> = [
    ['/', '/'],
    ['/a/b?c=d', '/a/b?c=d'],
    ['/a/./b/../c', '/a/./b/../c'], // kept byte for byte: it does not climb above the root
    ['http://x.example/a?q=1', '/a?q=1'],
    ['HTTP://x.example/a?q=1', '/a?q=1'],
    ['hTTpS://x.example:8443/a', '/a'],
    ['http://x.example', '/'],
    ['http://x.example?q', '/?q'],
    ['http://x.example/a#frag', '/a'],
    ['*', ASTERISK],
    ['ws://x.example/a', undefined],
    ['ftp://x.example/a', undefined],
    ['http:///a', undefined],
    ['x.example:443', undefined],
    ['a/b', undefined],
    ['', undefined],
    ['/../a', undefined],
    ['http://x.example/../a', undefined],
  ]
  for (const [target, expected] of table) {
    it(`${JSON.stringify(target)} → ${JSON.stringify(expected)}`, () => expect(originForm(target)).toBe(expected))
  }
})

describe('climbsAboveRoot', () => {
  const table: Array<[string, boolean]> = [
    ['/a/b', false],
    ['/a/../b', false],
    ['/a/b/../../c', false],
    ['/..', true],
    ['/../', true],
    ['/a/../../b', true],
    ['/%2e%2e/b', true],
    ['/%2E./b', true],
    ['/.%2e/b', true],
    ['/a/%2e%2e/%2e%2e/b', true],
    ['/...', false],
    ['/..a', false],
    ['/a?x=/../../..', false], // the query is not a path
    ['/./././a', false],
  ]
  for (const [path, climbs] of table) {
    it(`${path} ${climbs ? 'climbs' : 'stays'}`, () => expect(climbsAboveRoot(path)).toBe(climbs))
  }
})

describe('isValidHost', () => {
  const good = ['app.example', 'app.example:8080', '127.0.0.1', '127.0.0.1:80', '[::1]', '[::1]:8080', '[fe80::1%25eth0]', 'my_service', 'xn--bcher-kva.example', 'a-b.c']
  const bad = ['', 'a b', 'a"b', 'a;b', 'a,b', 'a/b', 'user@a', 'a:80:80', 'a:123456', '[::1', 'a\\b', "a'b"]
  for (const host of good) it(`accepts ${JSON.stringify(host)}`, () => expect(isValidHost(host)).toBe(true))
  for (const host of bad) it(`refuses ${JSON.stringify(host)}`, () => expect(isValidHost(host)).toBe(false))
})
