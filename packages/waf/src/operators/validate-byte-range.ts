import type { OperatorFactory } from './types.js'

/**
 * `@validateByteRange 1-255` (ranges and single bytes, comma-separated): matches when a byte of
 * the input is outside every range. Built into a 256-entry table once.
 */
export const validateByteRange: OperatorFactory = (param) => {
  const allowed = byteRanges(param)
  return (input) => {
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i)
      if (c > 255 || allowed[c] === 0) return input[i]!
    }
    return null
  }
}

/** The bytes `@validateByteRange` allows: 1 at each. */
export function byteRanges(param: string): Uint8Array {
  const allowed = new Uint8Array(256)
  for (const part of param.split(',')) {
    const [a, b] = part.trim().split('-').map((x) => Number.parseInt(x.trim(), 10))
    if (a === undefined || Number.isNaN(a)) continue
    const end = b === undefined || Number.isNaN(b) ? a : b
    for (let i = Math.max(0, a); i <= Math.min(255, end); i++) allowed[i] = 1
  }
  return allowed
}
