/** Each base64 char's six bits; -1 for any other char. */
const SEXTET = new Int8Array(128).fill(-1)
for (let i = 0; i < 64; i++) SEXTET['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i
/** Longer runs are decoded by Node (one Buffer); shorter ones, most values, in place without one. */
const SHORT = 64

/**
 * `t:base64Decode`: base64 to bytes; decoding stops at the first character that is not base64
 * (padding after the run changes nothing). A last group of two or three chars gives one or two
 * bytes, a lone char none, as Node's decoder does (a test compares the two on random input).
 */
export function base64Decode(s: string): string {
  let n = 0
  while (n < s.length) {
    const c = s.charCodeAt(n)
    if (c > 127 || SEXTET[c]! < 0) break
    n++
  }
  if (n < 2) return ''
  if (n > SHORT) return Buffer.from(s.slice(0, n), 'base64').toString('latin1')
  let out = ''
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const v = (SEXTET[s.charCodeAt(i)]! << 18) | (SEXTET[s.charCodeAt(i + 1)]! << 12) | (SEXTET[s.charCodeAt(i + 2)]! << 6) | SEXTET[s.charCodeAt(i + 3)]!
    out += String.fromCharCode(v >> 16, (v >> 8) & 255, v & 255)
  }
  if (n - i >= 2) {
    const v = (SEXTET[s.charCodeAt(i)]! << 18) | (SEXTET[s.charCodeAt(i + 1)]! << 12) | (n - i === 3 ? SEXTET[s.charCodeAt(i + 2)]! << 6 : 0)
    out += n - i === 3 ? String.fromCharCode(v >> 16, (v >> 8) & 255) : String.fromCharCode(v >> 16)
  }
  return out
}

/** `t:base64DecodeExt`: base64 to bytes, skipping characters that are not base64 (forgiving). */
export function base64DecodeExt(s: string): string {
  return Buffer.from(s.replace(/[^A-Za-z0-9+/]/g, ''), 'base64').toString('latin1')
}

/** `t:base64Encode`. */
export function base64Encode(s: string): string {
  return Buffer.from(s, 'latin1').toString('base64')
}
