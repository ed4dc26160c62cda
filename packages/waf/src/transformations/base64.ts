/** `t:base64Decode`: base64 to bytes; decoding stops at the first character that is not base64. */
export function base64Decode(s: string): string {
  const m = /^[A-Za-z0-9+/]*={0,2}/.exec(s)
  return Buffer.from(m === null ? '' : m[0], 'base64').toString('latin1')
}

/** `t:base64DecodeExt`: base64 to bytes, skipping characters that are not base64 (forgiving). */
export function base64DecodeExt(s: string): string {
  return Buffer.from(s.replace(/[^A-Za-z0-9+/]/g, ''), 'base64').toString('latin1')
}

/** `t:base64Encode`. */
export function base64Encode(s: string): string {
  return Buffer.from(s, 'latin1').toString('base64')
}
