/** Any byte above 0x7f (`À` is 0xc0): `toLowerCase()` would change it, C's `tolower()` does not. */
const HIGH = /[\x80-\xff]/

/**
 * `t:lowercase`: ASCII letters to lower case. Values are byte strings (one char a byte); only A-Z
 * change, as ModSecurity lowers bytes with `tolower()` in the C locale. An ASCII string takes the
 * engine's own `toLowerCase()` (the common case, and the fast one).
 */
export function lowercase(s: string): string {
  if (!HIGH.test(s)) return s.toLowerCase()
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s
}
