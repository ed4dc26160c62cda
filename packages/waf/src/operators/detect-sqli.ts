import { type SqlToken, sqlTokens, wordsOfType } from './sql-tokens.js'
import type { OperatorFactory } from './types.js'

/**
 * Functions an injection calls to learn or stall, not words a sentence uses: a call to one at the
 * start of a value is SQL. (This engine's list, from the databases' manuals.)
 */
const ATTACK_FUNCTIONS = new Set([
  'sleep', 'benchmark', 'pg_sleep', 'waitfor', 'extractvalue', 'updatexml', 'load_file', 'char', 'chr', 'concat',
  'concat_ws', 'group_concat', 'version', 'database', 'user', 'current_user', 'system_user', 'session_user',
  'schema', 'ascii', 'substring', 'substr', 'mid', 'ord', 'hex', 'unhex', 'cast', 'convert', 'count', 'if',
  'ifnull', 'isnull', 'coalesce', 'dbms_pipe', 'utl_inaddr', 'xp_cmdshell', 'exp', 'floor', 'rand', 'name_const',
  'row', 'make_set', 'elt', 'length', 'len', 'char_length', 'lower', 'upper', 'md5', 'sha1', 'json_keys',
  'pg_read_file', 'lo_import', 'randomblob', 'sqlite_version', 'procedure', 'exec', 'db_name', 'host_name',
])

/**
 * Shapes of the first tokens (their types, see sql-tokens.ts) that are SQL taking over a query and
 * not text: after a string is closed (`' or 1=1`, `'; drop`, `admin'--`), after a number (`1 or
 * 1=1`, `1 union select`), or a statement or call on its own (`select * from`, `select a, b from`,
 * `sleep(5)`). Arithmetic (`1 + 1 = 2`) and dates (`2026-12-31`) are not SQL taking over.
 */
const CLOSED_STRING = /^s(?:[&U;]|c|B[1nks(]|o[s1vf(knE]|[1v]|k[1s(&]?|f\(|\)[&U;ocB])/
const OPEN = /^(?:[1v)](?:&[1svf(nk]|U|;[EUkf]|B[1nks(]|c)|[(]*[1sv]\)+[&U;c]|\(*E[o1svf(k]|E[n1](?:,|k[n(])|E\(|v$|;[EUf]|U[E(]|[1sn]U[E(]|f\(|k&)/

/**
 * What `@detectSQLi` needs in a plain value (letters, digits, space, `_`, `.`, `-`; engine/plain.ts),
 * for the prefilter (engine/factors.ts): one of these, read lower case. Such a value has no quote
 * (so only the unquoted reading runs), no `(`, `)`, `;`, `@`, `,` or backslash, so its tokens are
 * numbers, words, `-` and `.` (types `1`, `n`, `o`), a `--` comment (`c`), and the words of the
 * lists below. Every shape {@link OPEN} accepts holds one of `&`, `U`, `B`, `c`, `E`, `k` or a type
 * a plain value cannot have: a word of those types, or `--`. A test reads random plain values.
 */
export const PLAIN_SQL_FACTORS: readonly string[] = [...wordsOfType('&UBEk'), '--']

function judge(tokens: readonly SqlToken[], quoted: boolean): boolean {
  if (tokens.length < 2 && !(tokens.length === 1 && tokens[0]!.type === 'v' && tokens[0]!.text.startsWith('@@'))) return false
  let shape = ''
  for (const t of tokens) shape += t.type
  if (quoted) return CLOSED_STRING.test(shape)
  if (!OPEN.test(shape)) return false
  // A call at the start is SQL only for a function an injection uses, not `print(…)` in prose.
  if (shape.startsWith('f(')) return ATTACK_FUNCTIONS.has(tokens[0]!.text)
  return true
}

/** The fingerprint of the first context that reads as an injection, or `null`. */
export function detectSql(input: string): string | null {
  if (input.length === 0) return null
  for (const quote of ['', "'", '"'] as const) {
    if (quote !== '' && input.indexOf(quote) === -1) continue
    const tokens = sqlTokens(input, quote, 6)
    if (judge(tokens, quote !== '')) return tokens.map((t) => t.type).join('')
  }
  return null
}

/**
 * `@detectSQLi`: the input, read as SQL in three contexts (as it is, and continuing a string opened
 * by `'` or `"`), starts with tokens that take over a query. Captures the fingerprint as TX.0
 * (ModSecurity does the same with libinjection's).
 */
export const detectSQLi: OperatorFactory = () => (input, scope, capture) => {
  const fingerprint = detectSql(input)
  if (fingerprint === null) return null
  if (capture) scope.setCaptures([fingerprint])
  return input
}
