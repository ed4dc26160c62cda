/**
 * PCRE, as the CRS writes its expressions, to a JavaScript `RegExp` on byte strings (one char a
 * byte, as ModSecurity's PCRE reads bytes without UTF mode). What differs, and what is done:
 *
 * - inline flags: `(?i)`, `(?s)`, `(?m)` (also `(?is)` and after `^`) become the expression's
 *   flags; a scoped `(?i:…)` becomes a plain group with the flag on the whole expression (wider,
 *   never narrower, than PCRE's: an attack it would match, this matches too);
 * - possessive quantifiers (`*+`, `++`, `?+`, `{n,m}+`) become greedy ones, atomic groups `(?>…)`
 *   plain groups: the same matches, with more backtracking allowed;
 * - `\x{HH}` becomes `\xHH` (a byte), or `\uHHHH` above 0xFF; `\A`, `\z`, `\Z`, `\h`, `\R`, `\e`
 *   their JavaScript equivalents; `[[:alpha:]]` and the other POSIX classes their ranges;
 *   `\Q…\E` a literal; `(?P<n>…)` a named group.
 *
 * What still does not compile is reported by rule id at load time (engine/compile.ts).
 */
export interface TranslatedRegex {
  readonly source: string
  readonly flags: string
}

const POSIX: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  word: '\\w',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
}

export function translatePcre(pattern: string): TranslatedRegex {
  const flags = new Set<string>()
  let out = ''
  let i = 0
  const n = pattern.length
  let inClass = false
  while (i < n) {
    const c = pattern[i]!
    if (c === '\\') {
      const next = pattern[i + 1]
      if (next === undefined) {
        out += '\\\\'
        i++
        continue
      }
      if (next === 'x' && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i + 3)
        const code = Number.parseInt(pattern.slice(i + 3, close), 16)
        out += code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${Math.min(code, 0xffff).toString(16).padStart(4, '0')}`
        i = close + 1
        continue
      }
      if (next === 'Q') {
        const end = pattern.indexOf('\\E', i + 2)
        const literal = pattern.slice(i + 2, end === -1 ? n : end)
        out += literal.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
        i = end === -1 ? n : end + 2
        continue
      }
      if (!inClass) {
        if (next === 'A') {
          out += '^'
          i += 2
          continue
        }
        if (next === 'z') {
          out += '$(?![\\s\\S])'
          i += 2
          continue
        }
        if (next === 'Z') {
          out += '(?=\\n?$(?![\\s\\S]))'
          i += 2
          continue
        }
        if (next === 'R') {
          out += '(?:\\r\\n|\\n|\\r)'
          i += 2
          continue
        }
      }
      if (next === 'h') {
        out += inClass ? ' \\t' : '[ \\t]'
        i += 2
        continue
      }
      if (next === 'e') {
        out += '\\x1b'
        i += 2
        continue
      }
      out += c + next
      i += 2
      continue
    }
    if (inClass) {
      if (c === '[' && pattern[i + 1] === ':') {
        const close = pattern.indexOf(':]', i + 2)
        const name = close === -1 ? undefined : pattern.slice(i + 2, close)
        if (name !== undefined && POSIX[name] !== undefined) {
          out += POSIX[name]
          i = close + 2
          continue
        }
      }
      if (c === '[') {
        out += '\\['
        i++
        continue
      }
      if (c === ']') inClass = false
      out += c
      i++
      continue
    }
    if (c === '[') {
      inClass = true
      out += c
      i++
      // A `]` right after `[` or `[^` is a literal in PCRE.
      if (pattern[i] === '^') {
        out += '^'
        i++
      }
      if (pattern[i] === ']') {
        out += '\\]'
        i++
      }
      continue
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2)
      const inline = /^([imsxJU-]+)\)/.exec(rest)
      if (inline !== null) {
        for (const f of inline[1]!) if ('ims'.includes(f)) flags.add(f)
        i += 2 + inline[0].length
        continue
      }
      const scoped = /^([imsxJU-]+):/.exec(rest)
      if (scoped !== null) {
        for (const f of scoped[1]!) if ('ims'.includes(f)) flags.add(f)
        out += '(?:'
        i += 2 + scoped[0].length
        continue
      }
      if (rest.startsWith('>')) {
        out += '(?:'
        i += 3
        continue
      }
      if (rest.startsWith('P<')) {
        out += '(?<'
        i += 4
        continue
      }
      if (rest.startsWith('P=')) {
        const close = rest.indexOf(')')
        out += `\\k<${rest.slice(2, close)}>`
        i += 2 + close + 1
        continue
      }
    }
    if ((c === '+' || c === '*' || c === '?' || c === '}') && pattern[i + 1] === '+') {
      // A possessive quantifier: the `+` after it goes.
      out += c
      i += 2
      continue
    }
    out += c
    i++
  }
  return { source: out, flags: [...flags].sort().join('') }
}
