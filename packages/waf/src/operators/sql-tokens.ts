/**
 * A small SQL tokenizer for `@detectSQLi` (operators/detect-sqli.ts), written for this engine after
 * the approach libinjection (Nick Galbreath) made known: read the input as SQL the way a database
 * would, give every token a one-letter type, fold the noise, and judge the first few types. The
 * types and the rules that judge them are this engine's own.
 *
 * Types: `s` string, `1` number, `n` word, `k` keyword, `E` statement (`select`, `drop`, …),
 * `U` set operator (`union`), `B` clause (`order by`, `group by`, `having`, `limit`, `where`),
 * `f` function (a word before `(`), `&` logic (`and`, `or`, `&&`), `o` operator, `v` variable
 * (`@x`, `@@version`), `c` comment, `(`, `)`, `,`, `;`.
 */
export type TokenType = 's' | '1' | 'n' | 'k' | 'E' | 'U' | 'B' | 'f' | '&' | 'o' | 'v' | 'c' | '(' | ')' | ',' | ';'

const STATEMENTS = new Set(['select', 'insert', 'update', 'delete', 'drop', 'create', 'alter', 'truncate', 'exec', 'execute', 'declare', 'waitfor', 'shutdown', 'replace', 'merge', 'grant', 'revoke', 'call', 'handler', 'load', 'rename', 'values'])
const SET_OPERATORS = new Set(['union', 'intersect', 'except', 'minus'])
const CLAUSES = new Set(['where', 'having', 'limit', 'offset', 'procedure', 'into', 'order', 'group'])
const LOGIC = new Set(['and', 'or', 'xor', 'not'])
const OPERATORS = new Set(['like', 'rlike', 'regexp', 'is', 'in', 'between', 'sounds', 'div', 'mod', 'escape', 'collate', 'glob', 'match', 'against'])
const KEYWORDS = new Set(['from', 'table', 'database', 'schema', 'null', 'true', 'false', 'all', 'distinct', 'top', 'case', 'when', 'then', 'else', 'end', 'if', 'by', 'asc', 'desc', 'as', 'on', 'join', 'set', 'delay', 'exists', 'information_schema', 'sysobjects', 'syscolumns', 'outfile', 'dumpfile', 'char', 'concat', 'sleep', 'benchmark'])

export interface SqlToken {
  readonly type: TokenType
  readonly text: string
}

/**
 * The tokens of `input` read as SQL. `quote`: the input is read as if it continued a string opened
 * by that quote (an injection into `'…'` starts inside one), so the text up to that quote is one
 * string token.
 */
export function sqlTokens(input: string, quote: '' | "'" | '"', max = 8): SqlToken[] {
  const out: SqlToken[] = []
  let i = 0
  const n = input.length
  if (quote !== '') {
    const end = input.indexOf(quote)
    if (end === -1) return [{ type: 's', text: input }]
    out.push({ type: 's', text: input.slice(0, end) })
    i = end + 1
  }
  while (i < n && out.length < max) {
    const c = input[i]!
    const code = input.charCodeAt(i)
    if (code <= 32 || code === 0xa0) {
      i++
      continue
    }
    if (c === "'" || c === '"' || c === '`') {
      const end = closingQuote(input, i + 1, c)
      out.push({ type: c === '`' ? 'n' : 's', text: input.slice(i + 1, end) })
      i = end + 1
      continue
    }
    if ((c === '-' && input[i + 1] === '-') || c === '#') {
      out.push({ type: 'c', text: input.slice(i) })
      break
    }
    if (c === '/' && input[i + 1] === '*') {
      const end = input.indexOf('*/', i + 2)
      const text = input.slice(i, end === -1 ? n : end + 2)
      // MySQL runs the inside of `/*! … */` as SQL: a comment that is code.
      if (input[i + 2] === '!') {
        i += 3
        while (i < n && input.charCodeAt(i) >= 48 && input.charCodeAt(i) <= 57) i++
        out.push({ type: 'c', text: '/*!' })
        continue
      }
      out.push({ type: 'c', text })
      i = end === -1 ? n : end + 2
      continue
    }
    if (c === '@') {
      let j = i + 1
      if (input[j] === '@') j++
      while (j < n && (isWordChar(input.charCodeAt(j)) || input.charCodeAt(j) === 46)) j++
      out.push({ type: 'v', text: input.slice(i, j) })
      i = j
      continue
    }
    if (isDigit(code) || (c === '.' && isDigit(input.charCodeAt(i + 1)))) {
      let j = i + 1
      if (c === '0' && (input[j] === 'x' || input[j] === 'X' || input[j] === 'b' || input[j] === 'B')) j++
      while (j < n && (isAsciiWordChar(input.charCodeAt(j)) || input.charCodeAt(j) === 46)) j++
      out.push({ type: '1', text: input.slice(i, j) })
      i = j
      continue
    }
    if (isWordChar(code) && !isDigit(code)) {
      let j = i + 1
      while (j < n && isWordChar(input.charCodeAt(j))) j++
      const word = input.slice(i, j).toLowerCase()
      i = j
      let k = i
      while (k < n && input.charCodeAt(k) <= 32) k++
      out.push({ type: wordType(word, input[k] === '('), text: word })
      continue
    }
    if (c === '(' || c === ')' || c === ',' || c === ';') {
      out.push({ type: c, text: c })
      i++
      continue
    }
    if (c === '&' && input[i + 1] === '&') {
      out.push({ type: '&', text: '&&' })
      i += 2
      continue
    }
    if (c === '|' && input[i + 1] === '|') {
      out.push({ type: '&', text: '||' })
      i += 2
      continue
    }
    if ('=<>!+-*/%^|&~:'.includes(c)) {
      let j = i + 1
      while (j < n && '=<>!|&'.includes(input[j]!)) j++
      out.push({ type: 'o', text: input.slice(i, j) })
      i = j
      continue
    }
    if (c === '\\' && (input[i + 1] === 'N')) {
      out.push({ type: '1', text: '\\N' })
      i += 2
      continue
    }
    // Anything else (`?`, `{`, `[`, `.`): a word of its own, which the judge takes as text.
    out.push({ type: 'n', text: c })
    i++
  }
  return fold(out)
}

function closingQuote(input: string, from: number, q: string): number {
  let i = from
  while (i < input.length) {
    const c = input[i]!
    if (c === '\\') i += 2
    else if (c === q && input[i + 1] === q) i += 2
    else if (c === q) return i
    else i++
  }
  return input.length
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

/** `[A-Za-z0-9_]` */
function isAsciiWordChar(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 95
}

/** A word's characters: `[A-Za-z0-9_$]` and the bytes past ASCII. */
function isWordChar(code: number): boolean {
  return isAsciiWordChar(code) || code === 36 || (code >= 0x80 && code <= 0xff)
}

/** Every word with a type, in one lookup: where a word is in two lists, the first list above wins. */
const WORDS = new Map<string, TokenType>()
for (const [list, type] of [[KEYWORDS, 'k'], [OPERATORS, 'o'], [CLAUSES, 'B'], [STATEMENTS, 'E'], [SET_OPERATORS, 'U'], [LOGIC, '&']] as const) for (const w of list) WORDS.set(w, type)

/** The words read as one of `types` (when not a call). */
export function wordsOfType(types: string): string[] {
  return [...WORDS].filter(([, t]) => types.includes(t)).map(([w]) => w)
}

function wordType(word: string, call: boolean): TokenType {
  const type = WORDS.get(word)
  if (type === undefined) return call ? 'f' : 'n'
  if (type === 'E') return call && word !== 'values' ? 'f' : 'E'
  if (type === 'k') return call ? 'f' : 'k'
  return type
}

/**
 * Folding: a sign before a number is part of it (`-1`, `+ 1`), `not` after a logic word is part
 * of that word, and a run of strings written side by side (`'a' 'b'`, which SQL joins) is one.
 */
function fold(tokens: SqlToken[]): SqlToken[] {
  const out: SqlToken[] = []
  for (const t of tokens) {
    const last = out[out.length - 1]
    const before = out[out.length - 2]
    if (t.type === '1' && last?.type === 'o' && (last.text === '-' || last.text === '+') && (before === undefined || '&o(,;EB'.includes(before.type))) {
      out[out.length - 1] = t
      continue
    }
    if (t.type === '&' && t.text === 'not' && last?.type === '&') continue
    if (t.type === 's' && last?.type === 's') continue
    out.push(t)
  }
  return out
}
