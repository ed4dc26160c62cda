const SIMPLE: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '?': '?', "'": "'", '"': '"' }

/** `t:escapeSeqDecode`: ANSI C escapes (`\n`, `\xHH`, octal `\OOO`, …); an unknown one stays as written. */
export function escapeSeqDecode(s: string): string {
  if (s.indexOf('\\') === -1) return s
  return s.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/gs, (whole, e: string) => {
    if (e[0] === 'x' && e.length > 1) return String.fromCharCode(Number.parseInt(e.slice(1), 16))
    if (/^[0-7]/.test(e)) return String.fromCharCode(Number.parseInt(e, 8) & 0xff)
    return SIMPLE[e] ?? whole
  })
}
