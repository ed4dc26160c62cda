import { childrenOf } from './json-names.js'

/**
 * How deep the scan follows a document; a deeper one is read by JSON.parse (body/json.ts), which
 * also tells the body error past its depth limit. APIs nest a few levels.
 */
const SCAN_DEPTH = 64
/** Members an object may have for the scan (each is compared with the ones before: no name twice). */
const SCAN_MEMBERS = 64

/** The document being read, where the reading is, and the arguments found: one scan at a time. */
let src = ''
let at = 0
let out: [string, string][] = []
/** The member names of the objects open now, innermost last (a name twice sends the body to JSON.parse). */
const keys: string[] = []

/**
 * The arguments of the common JSON body read in one pass, as body/json.ts names them (`json.a.b`,
 * array items by index, numbers as JSON.parse gives them back, `null` as empty), without building
 * the document's objects: about half the time of JSON.parse and the walk over its result, and
 * much less garbage. The common body is ASCII with no backslash (each string is then its own
 * bytes, and ends at the next quote), names no member twice and none by a digit first (JSON.parse
 * keeps the last value of a name given twice, and puts index-like names first). For any other body,
 * or one that is not JSON, undefined: JSON.parse reads it and says what is wrong.
 */
export function scanJson(bytes: string): [string, string][] | undefined {
  const args: [string, string][] = []
  src = bytes
  at = 0
  out = args
  keys.length = 0
  space()
  let ok = value('json', 0)
  space()
  ok &&= at === bytes.length
  src = ''
  out = []
  return ok ? args : undefined
}

function space(): void {
  let c = src.charCodeAt(at)
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = src.charCodeAt(++at)
}

function value(name: string, depth: number): boolean {
  const c = src.charCodeAt(at)
  if (c === 0x22) {
    const s = string()
    if (s === undefined) return false
    out.push([name, s])
    return true
  }
  if (c === 0x7b) return object(name, depth)
  if (c === 0x5b) return array(name, depth)
  if (c === 0x74) return literal('true', name, 'true')
  if (c === 0x66) return literal('false', name, 'false')
  if (c === 0x6e) return literal('null', name, '')
  return number(name)
}

/** A string from its opening quote: its text, or undefined for one the scan does not read (an escape, a byte past ASCII, a control char). */
function string(): string | undefined {
  const start = at + 1
  const end = src.indexOf('"', start)
  if (end === -1) return undefined
  for (let i = start; i < end; i++) {
    const c = src.charCodeAt(i)
    if (c < 0x20 || c === 0x5c || c > 0x7f) return undefined
  }
  at = end + 1
  return src.slice(start, end)
}

/** Past an opening `{` or `[`: true when `close` follows at once (then read too), an empty object or array. */
function opensEmpty(close: number): boolean {
  at++
  space()
  if (src.charCodeAt(at) !== close) return false
  at++
  return true
}

/** After a member or an item: 1 for a `,` (and the space after it), 0 for `close`, -1 for anything else. */
function next(close: number): number {
  space()
  const c = src.charCodeAt(at++)
  if (c === close) return 0
  if (c !== 0x2c) return -1
  space()
  return 1
}

function object(name: string, depth: number): boolean {
  if (depth >= SCAN_DEPTH) return false
  if (opensEmpty(0x7d)) return true
  const children = childrenOf(name)
  const first = keys.length
  for (let j = 0; ; j++) {
    if (src.charCodeAt(at) !== 0x22 || j >= SCAN_MEMBERS) return false
    // The member the last object here had at this place, compared where it stands (no string made).
    let key = children.members[j]
    let member: string
    if (key !== undefined && src.startsWith(key, at + 1) && src.charCodeAt(at + 1 + key.length) === 0x22) {
      at += key.length + 2
      member = children.memberNames[j]!
    } else {
      key = string()
      if (key === undefined) return false
      const c0 = key.charCodeAt(0)
      if (c0 >= 0x30 && c0 <= 0x39) return false // index-like: JSON.parse orders it first
      member = children.member(key, true)
      children.place(j, key, member)
    }
    for (let i = first; i < keys.length; i++) if (keys[i] === key) return false
    keys.push(key)
    space()
    if (src.charCodeAt(at) !== 0x3a) return false
    at++
    space()
    if (!value(member, depth + 1)) return false
    const more = next(0x7d)
    if (more < 0) return false
    if (more === 0) {
      keys.length = first
      return true
    }
  }
}

function array(name: string, depth: number): boolean {
  if (depth >= SCAN_DEPTH) return false
  if (opensEmpty(0x5d)) return true
  const children = childrenOf(name)
  for (let i = 0; ; i++) {
    if (!value(children.item(i), depth + 1)) return false
    const more = next(0x5d)
    if (more <= 0) return more === 0
  }
}

function literal(word: string, name: string, text: string): boolean {
  if (!src.startsWith(word, at)) return false
  at += word.length
  out.push([name, text])
  return true
}

/** A number as JSON writes it; given back as JSON.parse's value would print (`1.0` is `1`). */
function number(name: string): boolean {
  const start = at
  let c = src.charCodeAt(at)
  if (c === 0x2d) c = src.charCodeAt(++at)
  if (c === 0x30) c = src.charCodeAt(++at)
  else if (c >= 0x31 && c <= 0x39) {
    do c = src.charCodeAt(++at)
    while (c >= 0x30 && c <= 0x39)
  } else return false
  let integer = true
  if (c === 0x2e) {
    integer = false
    if (!digits()) return false
    c = src.charCodeAt(at)
  }
  if (c === 0x65 || c === 0x45) {
    integer = false
    const sign = src.charCodeAt(at + 1)
    if (sign === 0x2b || sign === 0x2d) at++
    if (!digits()) return false
  }
  const raw = src.slice(start, at)
  // An integer of at most 15 chars is exact as a double and prints as written (but `-0`).
  out.push([name, integer && raw.length <= 15 && raw !== '-0' ? raw : String(Number(raw))])
  return true
}

/** One digit or more after the char at `at` (a `.`, an `e` or its sign): false for none. */
function digits(): boolean {
  let c = src.charCodeAt(++at)
  if (!(c >= 0x30 && c <= 0x39)) return false
  do c = src.charCodeAt(++at)
  while (c >= 0x30 && c <= 0x39)
  return true
}
