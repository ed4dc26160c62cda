import type { OperatorFactory } from './types.js'

/**
 * `@validateUtf8Encoding`: matches a byte string that is not well-formed UTF-8 (a stray
 * continuation byte, a sequence cut short, an overlong form, a surrogate, past U+10FFFF).
 */
export const validateUtf8Encoding: OperatorFactory = () => (input) => {
  for (let i = 0; i < input.length; i++) {
    const b = input.charCodeAt(i)
    if (b < 0x80) continue
    let len: number
    let min: number
    if (b >= 0xc2 && b <= 0xdf) [len, min] = [2, 0x80]
    else if (b >= 0xe0 && b <= 0xef) [len, min] = [3, 0x800]
    else if (b >= 0xf0 && b <= 0xf4) [len, min] = [4, 0x10000]
    else return input.slice(i, i + 1)
    if (i + len > input.length) return input.slice(i)
    let code = b & (len === 2 ? 0x1f : len === 3 ? 0x0f : 0x07)
    for (let k = 1; k < len; k++) {
      const c = input.charCodeAt(i + k)
      if ((c & 0xc0) !== 0x80) return input.slice(i, i + k + 1)
      code = (code << 6) | (c & 0x3f)
    }
    if (code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return input.slice(i, i + len)
    i += len - 1
  }
  return null
}
