/**
 * `t:cmdLine`, as ModSecurity documents it: backslashes, double and single quotes and carets
 * deleted; spaces before a slash or an opening parenthesis deleted; commas and semicolons made
 * spaces; runs of whitespace made one space; lower case.
 */
export function cmdLine(s: string): string {
  let out = ''
  let space = false
  for (let i = 0; i < s.length; i++) {
    let c = s[i]!
    if (c === '\\' || c === '"' || c === "'" || c === '^') continue
    if (c === ',' || c === ';') c = ' '
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      space = true
      continue
    }
    if (space && c !== '/' && c !== '(' && out !== '') out += ' '
    space = false
    out += c >= 'A' && c <= 'Z' ? c.toLowerCase() : c
  }
  if (space && out !== '') out += ' '
  return out
}
