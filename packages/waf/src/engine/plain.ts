import { type AST, RegExpParser } from '@eslint-community/regexpp'
import { byteRanges } from '../operators/validate-byte-range.js'
import { translatePcre } from '../regex/pcre.js'

/**
 * Plain values: letters, digits, space, `_`, `.`, `-` and nothing else — what most values that
 * never come back are (ids, skus, numbers, dates, search words). Most CRS rules look for something
 * else (a quote, a bracket, a slash, a `<`, a `;`); such a rule cannot match a plain value, so it is
 * not run on one, and the value is not transformed for it.
 *
 * Sound by construction, checked at load, rule by rule:
 * - the value the operator sees is plain: the raw value is, and each of the rule's
 *   transformations maps plain values to plain values ({@link PLAIN_TRANSFORMS}: a test runs each
 *   on random plain strings);
 * - the operator cannot match any plain string ({@link matchesPlain}): an `@rx` whose expression,
 *   read as a language over the plain alphabet, is empty (lookarounds, anchors and back-references
 *   are taken as always satisfiable, which only widens it); a `@pm` none of whose phrases is plain;
 *   a literal (`@contains`, `@streq`, …) that is not plain; a `@validateByteRange` whose ranges
 *   allow every plain char; `@detectXSS` (it needs a `<` or an `=`).
 * Anything else (a negated operator, `@detectSQLi`, a macro in the parameter, an expression this
 * reader cannot parse) may match a plain value, and runs as before.
 */
const PLAIN = new Uint8Array(256)
for (let c = 0; c < 256; c++) {
  PLAIN[c] = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 32 || c === 95 || c === 46 || c === 45 ? 1 : 0
}
export const PLAIN_CHARS = [...Array(256).keys()].filter((c) => PLAIN[c] === 1)

/** Whether every char of `value` is plain. */
export function isPlain(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c > 255 || PLAIN[c] === 0) return false
  }
  return true
}

/**
 * Transformations (lower-case SecLang names) that turn a plain value into a plain value: they
 * change only what a plain value lacks (`%`, `+`, `\`, `&`, `/`, comments, bytes past 0x7f), or
 * change case, drop chars, or write digits or hex. Not here: base64 and hex decoding, digests,
 * `urlEncode`/`base64Encode` (their output holds other chars).
 */
export const PLAIN_TRANSFORMS: ReadonlySet<string> = new Set([
  'lowercase', 'uppercase', 'urldecode', 'urldecodeuni', 'jsdecode', 'htmlentitydecode', 'cssdecode', 'cmdline',
  'utf8tounicode', 'removewhitespace', 'compresswhitespace', 'trim', 'trimleft', 'trimright', 'removenulls', 'replacenulls',
  'replacecomments', 'removecommentschar', 'removecomments', 'normalizepath', 'normalisepath', 'normalizepathwin',
  'normalisepathwin', 'escapeseqdecode', 'hexencode', 'length',
])

/** Operators whose every match holds their parameter, as it is written. */
export const LITERAL_OPERATORS: ReadonlySet<string> = new Set(['contains', 'strmatch', 'containsword', 'streq', 'beginswith', 'endswith'])

/**
 * Whether the operator may match some plain value (true when in doubt). `phrases` gives the
 * phrases of `@pm`/`@pmFromFile`.
 */
export function matchesPlain(operator: string, param: string, phrases: () => readonly string[]): boolean {
  if (operator === 'pmf') operator = 'pmfromfile'
  if (param.includes('%{')) return true
  if (LITERAL_OPERATORS.has(operator)) return isPlain(param)
  switch (operator) {
    case 'rx':
      return rxMatchesPlain(param)
    case 'pm':
    case 'pmfromfile':
      return phrases().some((p) => p !== '' && isPlain(p))
    case 'detectxss':
      // Every verdict of detectHtml (operators/detect-xss.ts) needs a `<` (a tag) or an `=` (an attribute's value).
      return false
    case 'validatebyterange': {
      // It matches a byte outside its ranges: never a plain one, when they allow every plain char.
      const allowed = byteRanges(param)
      return !PLAIN_CHARS.every((c) => allowed[c] === 1)
    }
    default:
      return true
  }
}

const parser = new RegExpParser({ ecmaVersion: 2024 })

/**
 * An expression as the engine compiles it (regex/pcre.ts), parsed; undefined when this reader
 * cannot (the rule is then taken to match anything), or when it has the u flag (there, case
 * folding can map a char past 0x7f to ASCII).
 */
export function parsePcre(pcre: string): { pattern: AST.Pattern; flags: string } | undefined {
  try {
    const { source, flags } = translatePcre(pcre)
    if (flags.includes('u') || flags.includes('v')) return undefined
    return { pattern: parser.parsePattern(source, 0, source.length, { unicode: false, unicodeSets: false }), flags }
  } catch {
    return undefined
  }
}

function rxMatchesPlain(pcre: string): boolean {
  const parsed = parsePcre(pcre)
  if (parsed === undefined) return true
  return new PlainLanguage(parsed.flags.includes('i'), parsed.flags.includes('s')).alternatives(parsed.pattern.alternatives)
}

/** Whether a part of an expression matches some string of plain chars. */
export class PlainLanguage {
  constructor(
    readonly fold: boolean,
    readonly dotAll: boolean,
  ) {}

  alternatives(list: readonly AST.Alternative[]): boolean {
    return list.some((a) => a.elements.every((e) => this.element(e)))
  }

  element(e: AST.Element): boolean {
    switch (e.type) {
      case 'Group':
      case 'CapturingGroup':
        return this.alternatives(e.alternatives)
      case 'Quantifier':
        return e.min === 0 || this.element(e.element)
      case 'Character':
      case 'CharacterSet':
      case 'CharacterClass':
        return PLAIN_CHARS.some((c) => this.char(e, c))
      default:
        // An assertion (zero-width) or a back-reference (text a group already matched, plain or
        // empty): taken as satisfiable.
        return true
    }
  }

  /** Whether one char of the expression matches plain char `c`. */
  char(e: AST.Character | AST.CharacterClass | AST.CharacterSet, c: number): boolean {
    if (e.type === 'Character') return this.same(e.value, c)
    if (e.type === 'CharacterSet') {
      // `.` matches every plain char (none is a line break); a property escape needs u: taken to match.
      if (e.kind === 'any' || e.kind === 'property') return true
      return inSet(e.kind, e.negate, c)
    }
    return this.inClass(e, c)
  }

  /** Whether pattern char `p` matches plain char `c` (under `i`: its ASCII case pair too). */
  same(p: number, c: number): boolean {
    if (p === c) return true
    return this.fold && swapCase(p) === c
  }

  inClass(cls: AST.CharacterClass, c: number): boolean {
    if (cls.unicodeSets) return true
    let hit = false
    for (const el of cls.elements) {
      if (el.type === 'Character') hit = this.same(el.value, c)
      else if (el.type === 'CharacterClassRange') hit = inRange(el.min.value, el.max.value, c) || (this.fold && inRange(el.min.value, el.max.value, swapCase(c)))
      else if (el.type === 'CharacterSet') {
        // A property escape cannot be written without u; anything else unknown: the class is taken to match.
        if (el.kind === 'property') return true
        hit = inSet(el.kind, el.negate, c)
      } else return true
      if (hit) break
    }
    return cls.negate ? !hit : hit
  }
}

function inRange(min: number, max: number, c: number): boolean {
  return c >= min && c <= max
}

function inSet(kind: 'digit' | 'space' | 'word', negate: boolean, c: number): boolean {
  const ch = String.fromCharCode(c)
  const is = kind === 'digit' ? /\d/.test(ch) : kind === 'space' ? /\s/.test(ch) : /\w/.test(ch)
  return is !== negate
}

function swapCase(c: number): number {
  if (c >= 65 && c <= 90) return c + 32
  if (c >= 97 && c <= 122) return c - 32
  return c
}
