import { unicodeToByte } from './full-width.js'
import { isHex } from './url-decode.js'

/** `t:urlDecodeUni`: `t:urlDecode`, and `%uXXXX` (IIS's) to one byte (see full-width.ts). */
export function urlDecodeUni(s: string): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === '+') out += ' '
    else if (c === '%') {
      if ((s[i + 1] === 'u' || s[i + 1] === 'U') && hex4(s, i + 2)) {
        out += unicodeToByte(Number.parseInt(s.slice(i + 2, i + 6), 16))
        i += 5
      } else if (isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
        out += String.fromCharCode(Number.parseInt(s.slice(i + 1, i + 3), 16))
        i += 2
      } else out += c
    } else out += c
  }
  return out
}

function hex4(s: string, at: number): boolean {
  return isHex(s.charCodeAt(at)) && isHex(s.charCodeAt(at + 1)) && isHex(s.charCodeAt(at + 2)) && isHex(s.charCodeAt(at + 3))
}
