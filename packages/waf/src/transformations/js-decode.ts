import { unicodeToByte } from './full-width.js'
import { isHex } from './url-decode.js'

const SIMPLE: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' }

/**
 * `t:jsDecode`: JavaScript escapes — `\uHHHH` (one byte, see full-width.ts), `\xHH`, octal
 * `\OOO`, `\b \f \n \r \t \v`, and `\c` for any other `c`.
 */
export function jsDecode(s: string): string {
  if (s.indexOf('\\') === -1) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c !== '\\' || i + 1 >= s.length) {
      out += c
      continue
    }
    const n = s[i + 1]!
    if ((n === 'u' || n === 'U') && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5))) {
      out += unicodeToByte(Number.parseInt(s.slice(i + 2, i + 6), 16))
      i += 5
    } else if ((n === 'x' || n === 'X') && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3))) {
      out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 4), 16))
      i += 3
    } else if (n >= '0' && n <= '7') {
      let j = i + 1
      while (j < s.length && j < i + 4 && s[j]! >= '0' && s[j]! <= '7') j++
      out += String.fromCharCode(Number.parseInt(s.slice(i + 1, j), 8) & 0xff)
      i = j - 1
    } else {
      out += SIMPLE[n] ?? n
      i++
    }
  }
  return out
}
