/** `t:replaceComments`: each C-style comment (`/* … *\/`, an unterminated one to the end) made one space. */
export function replaceComments(s: string): string {
  if (s.indexOf('/*') === -1) return s
  return s.replace(/\/\*[\s\S]*?(?:\*\/|$)/g, ' ')
}

/** `t:removeCommentsChar`: the comment markers `/*`, `*\/`, `--` and `#` removed (what was between them stays). */
export function removeCommentsChar(s: string): string {
  return /\/\*|\*\/|--|#/.test(s) ? s.replace(/\/\*|\*\/|--|#/g, '') : s
}

/** `t:removeComments`: C comments, and `--` or `#` to the end of the line, removed. */
export function removeComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?(?:\*\/|$)/g, '').replace(/(?:--|#)[^\n]*/g, '')
}
