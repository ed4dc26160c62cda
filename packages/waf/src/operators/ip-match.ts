import { addressMatcher } from '@switchyard/strategies'
import type { OperatorFactory } from './types.js'

/** `@ipMatch 10.0.0.0/8,192.168.1.1`: the input (an address) is in one of the ranges. */
export const ipMatch: OperatorFactory = (param) => {
  const matches = addressMatcher(
    param.split(/[\s,]+/).filter((p) => p !== ''),
    '@ipMatch',
  )
  return (input) => (matches(input) ? input : null)
}

/** `@ipMatchFromFile` (`@ipMatchF`): the ranges of a data file, one a line. */
export const ipMatchFromFile: OperatorFactory = (param, load) => {
  const ranges = load(param.trim())
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  const matches = addressMatcher(ranges, '@ipMatchFromFile')
  return (input) => (matches(input) ? input : null)
}
