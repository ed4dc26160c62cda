/** `t:urlDecode`: `%XX` to its byte and `+` to a space; an invalid escape stays as written. */
export function urlDecode(s: string): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === '+') out += ' '
    else if (c === '%' && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      out += String.fromCharCode(Number.parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else out += c
  }
  return out
}

export function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
}
