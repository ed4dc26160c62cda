/** `t:removeNulls`: NUL bytes removed. */
export function removeNulls(s: string): string {
  return s.indexOf('\0') === -1 ? s : s.replace(/\0/g, '')
}

/** `t:replaceNulls`: NUL bytes made spaces. */
export function replaceNulls(s: string): string {
  return s.indexOf('\0') === -1 ? s : s.replace(/\0/g, ' ')
}
