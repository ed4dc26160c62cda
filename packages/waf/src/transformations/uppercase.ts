/** `t:uppercase`: ASCII letters to upper case. */
export function uppercase(s: string): string {
  return /[a-z]/.test(s) ? s.replace(/[a-z]+/g, (m) => m.toUpperCase()) : s
}
