import { unicodeToByte } from './full-width.js'
import { isHex } from './url-decode.js'

/**
 * `t:cssDecode`: CSS 2 escapes — a backslash and up to six hex digits (one byte, see
 * full-width.ts; one whitespace after them is part of the escape), a backslash and a newline
 * (removed), a backslash and any other character (that character).
 */
export function cssDecode(s: string): string {
  if (s.indexOf('\\') === -1) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c !== '\\' || i + 1 >= s.length) {
      if (c !== '\\') out += c
      continue
    }
    let j = i + 1
    while (j < s.length && j < i + 7 && isHex(s.charCodeAt(j))) j++
    if (j > i + 1) {
      out += unicodeToByte(Number.parseInt(s.slice(i + 1, j), 16))
      if (j < s.length && /[ \t\n\r\f]/.test(s[j]!)) j++
      i = j - 1
    } else if (s[i + 1] === '\n') i++
    else {
      out += s[i + 1]
      i++
    }
  }
  return out
}
