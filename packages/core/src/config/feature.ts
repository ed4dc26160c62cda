import { checkObject, rejectUnknownKeys } from '@switchyard/strategies'

/**
 * The options of a feature that is off by default and turned on by `true` or an object
 * (`compress`, `cache`, `buffering`, `adaptiveConcurrency`): undefined when off, `{}` for `true`,
 * else the object, checked for unknown keys (named under `field`).
 */
export function featureOptions(input: unknown, field: string, keys: readonly string[]): Record<string, unknown> | undefined {
  if (input === undefined || input === false) return undefined
  const o = checkObject(input === true ? {} : input, field)
  rejectUnknownKeys(o, keys, field)
  return o
}
