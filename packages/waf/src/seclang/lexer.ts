import { WafRuleError } from '../errors.js'

/** One directive of a SecLang file: its name, its arguments (quotes removed), where it was. */
export interface Directive {
  readonly name: string
  readonly args: readonly string[]
  readonly file: string
  /** The line the directive starts on (1-based). */
  readonly line: number
}

/**
 * Splits SecLang text into directives, as ModSecurity's configuration reader does: `#` comments,
 * a backslash at the end of a line joining it to the next, arguments separated by whitespace,
 * double-quoted arguments keeping their spaces (`\"` inside is a quote; any other backslash is
 * kept, so a regular expression's `\d` stays `\d`).
 */
export function lex(text: string, file: string): Directive[] {
  const out: Directive[] = []
  const lines = text.split(/\r?\n/)
  let i = 0
  while (i < lines.length) {
    const start = i
    let line = lines[i++]!
    if (/^\s*(#|$)/.test(line)) continue
    while (/\\\s*$/.test(line) && i < lines.length) line = line.replace(/\\\s*$/, '') + lines[i++]!
    const args = splitArgs(line, file, start + 1)
    if (args.length === 0) continue
    out.push({ name: args[0]!, args: args.slice(1), file, line: start + 1 })
  }
  return out
}

/** The whitespace-separated arguments of one logical line; double quotes group. */
function splitArgs(line: string, file: string, lineNo: number): string[] {
  const args: string[] = []
  let i = 0
  const n = line.length
  while (i < n) {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++
    if (i >= n) break
    if (line[i] === '"') {
      let value = ''
      i++
      let closed = false
      while (i < n) {
        const c = line[i]!
        if (c === '\\' && line[i + 1] === '"') {
          value += '"'
          i += 2
          continue
        }
        if (c === '"') {
          closed = true
          i++
          break
        }
        value += c
        i++
      }
      if (!closed) throw new WafRuleError(`${file}:${lineNo}: a quoted argument is not closed`, { file, line: lineNo })
      args.push(value)
    } else {
      let value = ''
      while (i < n && line[i] !== ' ' && line[i] !== '\t') value += line[i++]
      args.push(value)
    }
  }
  return args
}
