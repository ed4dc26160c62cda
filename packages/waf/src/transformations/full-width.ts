/**
 * A Unicode code point as the one byte ModSecurity keeps of it when no unicode map is loaded:
 * full-width ASCII (U+FF01-U+FF5E) as the ASCII it stands for, anything else its low byte.
 */
export function unicodeToByte(code: number): string {
  if (code >= 0xff01 && code <= 0xff5e) return String.fromCharCode(code - 0xfee0)
  return String.fromCharCode(code & 0xff)
}
