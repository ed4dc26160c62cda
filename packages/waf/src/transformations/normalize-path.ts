/**
 * `t:normalizePath`: runs of slashes made one, `./` self-references removed, `../` climbing
 * resolved (never above the start), as ModSecurity does it.
 */
export function normalizePath(s: string): string {
  if (!/\/\/|\/\.|^\.|\.\//.test(s)) return s
  const absolute = s.startsWith('/')
  const trailing = s.endsWith('/') || /\/\.\.?$/.test(s)
  const out: string[] = []
  for (const part of s.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (out.length !== 0 && out[out.length - 1] !== '..') out.pop()
      else if (!absolute) out.push('..')
      continue
    }
    out.push(part)
  }
  let path = (absolute ? '/' : '') + out.join('/')
  if (trailing && out.length !== 0) path += '/'
  return path === '' ? (absolute ? '/' : '') : path
}

/** `t:normalizePathWin`: backslashes made slashes, then `t:normalizePath`. */
export function normalizePathWin(s: string): string {
  return normalizePath(s.indexOf('\\') === -1 ? s : s.replace(/\\/g, '/'))
}
