import { InvalidOptionError } from './errors.js'
import { describe, nearest } from './internal/check.js'

/**
 * Option checks shared by every Switchyard package and by custom strategy factories. Each throws
 * an {@link InvalidOptionError} whose message names the option path and echoes the bad value.
 */

/** Throws unless `value` is a plain object (or undefined, which is allowed and ignored). */
export function checkObject(value: unknown, path: string): Record<string, unknown> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(`${path} must be an object, got ${describe(value)}`, { field: path })
  }
  return value as Record<string, unknown>
}

/** Throws on any key of `value` not in `known`, naming the nearest known key. */
export function rejectUnknownKeys(value: object, known: readonly string[], path: string): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const field = path ? `${path}.${key}` : key
    const hint = nearest(key, known)
    throw new InvalidOptionError(
      `unknown option ${field}${hint ? `; did you mean ${path ? `${path}.` : ''}${hint}?` : ''} (known: ${known.join(', ')})`,
      { field },
    )
  }
}

/** Returns `value` as a number within [min, max] (integer if asked), or `fallback` when undefined. */
export function checkNumber(
  value: unknown,
  path: string,
  fallback: number,
  { min = 0, max = Number.POSITIVE_INFINITY, integer = false, exclusiveMin = false } = {},
): number {
  if (value === undefined) return fallback
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (exclusiveMin ? value > min : value >= min) &&
    value <= max &&
    (!integer || Number.isInteger(value) || value === Number.POSITIVE_INFINITY)
  if (!ok) {
    const kind = integer ? 'an integer' : 'a number'
    const range =
      max === Number.POSITIVE_INFINITY
        ? `${exclusiveMin ? '>' : '>='} ${min}`
        : `from ${min} to ${max}`
    throw new InvalidOptionError(`${path} must be ${kind} ${range}, got ${describe(value)}`, { field: path })
  }
  return value
}

/** Returns `value` as a boolean, or `fallback` when undefined. */
export function checkBoolean(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw new InvalidOptionError(`${path} must be a boolean, got ${describe(value)}`, { field: path })
  }
  return value
}

/** Returns `value` as a function, or `fallback` when undefined. */
export function checkFunction<F>(value: unknown, path: string, fallback: F): F {
  if (value === undefined) return fallback
  if (typeof value !== 'function') {
    throw new InvalidOptionError(`${path} must be a function, got ${describe(value)}`, { field: path })
  }
  return value as F
}

/**
 * Returns `value` when it is one of `choices`, or `fallback` when undefined. The message lists the
 * choices as `'a', 'b' or 'c'`.
 */
export function checkOneOf<T extends string>(value: unknown, path: string, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (!(choices as readonly unknown[]).includes(value)) {
    const quoted = choices.map((c) => `'${c}'`)
    const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`
    throw new InvalidOptionError(`${path} must be ${list}, got ${describe(value)}`, { field: path })
  }
  return value as T
}

export { describe as describeValue }
