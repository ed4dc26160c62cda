/** Whitespace as ModSecurity's transformations count it: space, tab, CR, LF, FF, VT, and NBSP (0xA0). */
export const WHITESPACE = /[ \t\n\r\f\v\xa0]/
const RUNS = /[ \t\n\r\f\v\xa0]+/g

/** `t:removeWhitespace`: every whitespace byte removed. */
export function removeWhitespace(s: string): string {
  return WHITESPACE.test(s) ? s.replace(RUNS, '') : s
}

/** `t:compressWhitespace`: each run of whitespace made one space. */
export function compressWhitespace(s: string): string {
  return WHITESPACE.test(s) ? s.replace(RUNS, ' ') : s
}

/** `t:trim`, `t:trimLeft`, `t:trimRight`. */
export function trim(s: string): string {
  return trimRight(trimLeft(s))
}

export function trimLeft(s: string): string {
  return s.replace(/^[ \t\n\r\f\v\xa0]+/, '')
}

export function trimRight(s: string): string {
  return s.replace(/[ \t\n\r\f\v\xa0]+$/, '')
}
