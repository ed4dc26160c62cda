import type { AST } from '@eslint-community/regexpp'
import { PLAIN_SQL_FACTORS } from '../operators/detect-sqli.js'
import { isPlain, LITERAL_OPERATORS, parsePcre, PLAIN_CHARS, PlainLanguage } from './plain.js'

/**
 * Required factors: strings one of which every match of an operator holds, when it runs on a plain
 * value (engine/plain.ts). `union.*?select` needs `union`; `@pm a b` needs `a` or `b`. A rule with
 * factors runs on a plain value only if one of them is in it (one automaton over every rule's
 * factors reads the value once, engine/prefilter.ts); a search word or a sku holds none of the
 * SQL and shell words most rules look for.
 *
 * Factors are lower case with runs of spaces made one: a value is read the same way, so a rule
 * whose expression is case-sensitive is prefiltered case-insensitively (wider, never narrower).
 * This holds because each of the rule's transformations ({@link SUBSTRING_TRANSFORMS}) turns a plain
 * value into a part of it, read that way (a test runs each on random plain strings).
 *
 * The reading of an expression follows Cox's (2012, "Regular Expression Matching with a Trigram
 * Index"): per part, the set of exact strings it matches when small, else the factors one of which
 * it needs; a sequence keeps its best factors, an alternation the union of its branches'.
 */
export const SUBSTRING_TRANSFORMS: ReadonlySet<string> = new Set([
  'lowercase', 'uppercase', 'urldecode', 'urldecodeuni', 'jsdecode', 'htmlentitydecode', 'cssdecode', 'cmdline',
  'utf8tounicode', 'compresswhitespace', 'trim', 'trimleft', 'trimright', 'removenulls', 'replacenulls',
  'replacecomments', 'removecomments', 'normalizepath', 'normalisepath', 'normalizepathwin', 'normalisepathwin',
  'escapeseqdecode',
])

/**
 * Factors shorter than this are in most values: a rule needing one is not worth a prefilter. Two
 * keeps `..` (path traversal) and `0x` (SQL hex), which plain values seldom hold.
 */
export const MIN_FACTOR = 2
/**
 * At most this many exact strings per part, each at most this long, before they become factors.
 * 256, not fewer: the CRS's command lists are alternations of a few dozen names per first letter
 * (`l(?:s|ess|zcat|…)`), each branch a factor only joined to its letter (`ls`, not `s`); at 16 the
 * letter alone was kept, too short to use, and rule 932150 ran on every plain value.
 */
const EXACT_MAX = 256
const EXACT_LEN = 32
/** A class of more plain chars than this is read as any char. */
const CLASS_MAX = 4

/** What a part of an expression needs: `exact` all it matches ([] matches nothing plain), or `req`. */
interface Need {
  readonly exact: readonly string[] | null
  readonly req: readonly string[] | null
}

const ANY: Need = { exact: null, req: null }
const NOTHING: Need = { exact: [], req: null }
const EMPTY: Need = { exact: [''], req: null }

/** The value as factors are looked for in it: lower case, runs of spaces one space. */
export function view(s: string): string {
  let out = s.toLowerCase()
  if (out.indexOf('  ') !== -1) out = out.replace(/ {2,}/g, ' ')
  return out
}

/**
 * The factors an `@rx` needs on plain values: null when none is known (or too short to help); an
 * empty list when it cannot match a plain value at all.
 */
export function rxFactors(pcre: string): readonly string[] | null {
  const parsed = parsePcre(pcre)
  if (parsed === undefined) return null
  const need = new Reader(new PlainLanguage(true, parsed.flags.includes('s'))).alternatives(parsed.pattern.alternatives)
  if (need.exact !== null && need.exact.length === 0) return []
  return usable(need.exact !== null ? fromExact(need.exact) : need.req)
}

/** The factors of a list of phrases (`@pm`, `@contains`): the plain ones (the others cannot be in a plain value). */
export function phraseFactors(phrases: readonly string[]): readonly string[] | null {
  const plain = phrases.filter((p) => p !== '' && isPlain(p))
  if (plain.length === 0) return []
  return usable(plain)
}

function usable(req: readonly string[] | null): readonly string[] | null {
  if (req === null) return null
  const list = [...new Set(req.map(view))]
  return list.every((f) => f.length >= MIN_FACTOR) ? list : null
}

function fromExact(exact: readonly string[] | null): readonly string[] | null {
  if (exact === null || exact.includes('')) return null
  return exact
}

/** The better of two requirements (both must hold, one is kept): the longer shortest factor, then the fewer factors. */
function pick(a: readonly string[] | null, b: readonly string[] | null): readonly string[] | null {
  if (a === null) return b
  if (b === null) return a
  const sa = Math.min(...a.map((f) => f.length))
  const sb = Math.min(...b.map((f) => f.length))
  if (sa !== sb) return sa > sb ? a : b
  return a.length <= b.length ? a : b
}

function cross(a: readonly string[], b: readonly string[]): string[] | null {
  if (a.length * b.length > EXACT_MAX) return null
  const out = new Set<string>()
  for (const x of a) for (const y of b) out.add(x + y)
  const list = [...out]
  return list.some((s) => s.length > EXACT_LEN) ? null : list
}

class Reader {
  constructor(readonly plain: PlainLanguage) {}

  alternatives(list: readonly AST.Alternative[]): Need {
    const needs = list.map((a) => this.sequence(a.elements)).filter((n) => !(n.exact !== null && n.exact.length === 0))
    if (needs.length === 0) return NOTHING
    if (needs.every((n) => n.exact !== null)) {
      const all = [...new Set(needs.flatMap((n) => n.exact!))]
      if (all.length <= EXACT_MAX) return { exact: all, req: null }
    }
    const req: string[] = []
    for (const n of needs) {
      const r = n.exact !== null ? fromExact(n.exact) : n.req
      if (r === null) return ANY
      req.push(...r)
    }
    return { exact: null, req }
  }

  sequence(elements: readonly AST.Element[]): Need {
    let run: readonly string[] | null = ['']
    let best: readonly string[] | null = null
    let whole = true
    for (const e of elements) {
      const n = this.element(e)
      if (n.exact !== null && n.exact.length === 0) return NOTHING
      if (n.exact !== null) {
        const joined: string[] | null = run === null ? null : cross(run, n.exact)
        if (joined !== null) run = joined
        else {
          whole = false
          best = pick(best, fromExact(run))
          run = n.exact
        }
      } else {
        whole = false
        best = pick(pick(best, fromExact(run)), n.req)
        run = null
      }
    }
    if (whole) return { exact: run, req: null }
    return { exact: null, req: pick(best, fromExact(run)) }
  }

  element(e: AST.Element): Need {
    switch (e.type) {
      case 'Group':
      case 'CapturingGroup':
        return this.alternatives(e.alternatives)
      case 'Quantifier': {
        const n = this.element(e.element)
        if (n.exact !== null && n.exact.length === 0) return e.min === 0 ? EMPTY : NOTHING
        if (e.min === 1 && e.max === 1) return n
        if (e.min === 0) {
          if (e.max === 1 && n.exact !== null && n.exact.length < EXACT_MAX) return { exact: [...new Set(['', ...n.exact])], req: null }
          return ANY
        }
        return { exact: null, req: n.exact !== null ? fromExact(n.exact) : n.req }
      }
      case 'Character':
      case 'CharacterClass':
      case 'CharacterSet':
        return this.chars(e)
      case 'Assertion':
        return EMPTY // zero-width; a lookaround's condition is dropped (wider)
      default:
        return ANY // a back-reference
    }
  }

  chars(e: AST.Character | AST.CharacterClass | AST.CharacterSet): Need {
    const set = new Set<string>()
    for (const c of PLAIN_CHARS) if (this.plain.char(e, c)) set.add(String.fromCharCode(c).toLowerCase())
    if (set.size === 0) return NOTHING
    return set.size <= CLASS_MAX ? { exact: [...set], req: null } : ANY
  }
}

/**
 * The factors an operator needs on plain values (see {@link rxFactors}); null when none is known.
 * `phrases` gives the phrases of `@pm`/`@pmFromFile`.
 */
export function operatorFactors(operator: string, param: string, phrases: () => readonly string[]): readonly string[] | null {
  if (param.includes('%{')) return null
  if (LITERAL_OPERATORS.has(operator)) return param === '' ? null : phraseFactors([param])
  switch (operator) {
    case 'rx':
      return rxFactors(param)
    case 'pm':
    case 'pmf':
    case 'pmfromfile':
      return phraseFactors(phrases())
    case 'detectsqli':
      return PLAIN_SQL_FACTORS
    default:
      return null
  }
}
