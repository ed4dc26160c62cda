/**
 * `t:utf8toUnicode`: each well-formed UTF-8 multi-byte sequence of the byte string becomes
 * `%uHHHH` (so `t:urlDecodeUni` after it, as the CRS chains them, reads it as one byte); other
 * bytes are kept.
 */
export function utf8toUnicode(s: string): string {
  if (!/[\x80-\xff]/.test(s)) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const b = s.charCodeAt(i)
    const len = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 1
    if (len > 1 && i + len <= s.length) {
      let code = b & (len === 2 ? 0x1f : len === 3 ? 0x0f : 0x07)
      let ok = true
      for (let k = 1; k < len; k++) {
        const cont = s.charCodeAt(i + k)
        if ((cont & 0xc0) !== 0x80) {
          ok = false
          break
        }
        code = (code << 6) | (cont & 0x3f)
      }
      if (ok) {
        out += `%u${(code > 0xffff ? code & 0xffff : code).toString(16).padStart(4, '0')}`
        i += len - 1
        continue
      }
    }
    out += s[i]
  }
  return out
}
