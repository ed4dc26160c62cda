import type { OperatorFactory } from './types.js'

/**
 * `@detectXSS`, this engine's own: the input is read as HTML the way a browser's tokenizer would
 * (HTML Living Standard, 13.2.5) in the places a value lands in a page — between tags, and inside
 * an attribute value opened by `"`, `'` or nothing — and is an attack when it opens a tag that
 * runs script by being there, gives any tag an event handler with a value (`on…=`), or points a URL attribute
 * at `javascript:`, `vbscript:` or `data:`, or a style at `expression(`.
 */

/** Tags that load or run code, or restyle the page, by their presence alone. */
const TAGS = new Set(['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'svg', 'math', 'style', 'link', 'meta', 'base', 'xml', 'xss', 'import', 'isindex', 'template', 'portal', 'vmlframe', 'bgsound', 'layer', 'ilayer', 'xmp', 'noembed', 'noscript', 'listing', 'plaintext', 'set', 'animate', 'handler'])

/** Attributes whose value is a URL (or, for `style`, CSS) the browser acts on. */
const URL_ATTRIBUTES = new Set(['href', 'src', 'action', 'formaction', 'data', 'xlink:href', 'background', 'dynsrc', 'lowsrc', 'poster', 'codebase', 'srcdoc', 'to', 'from', 'values', 'by', 'ping', 'manifest', 'content', 'folder'])
const SCHEMES = /^(?:javascript|vbscript|livescript|data|mocha):/

/** The reason the input is XSS, or `null`. */
export function detectHtml(input: string): string | null {
  const data = scanData(input, 0)
  if (data !== null) return data
  for (const quote of ['"', "'", '`']) {
    const at = input.indexOf(quote)
    if (at !== -1) {
      const hit = scanAttributes(input, at + 1) ?? scanData(input, at + 1)
      if (hit !== null) return hit
    }
  }
  // An unquoted value ends at whitespace; what follows is read as more attributes.
  const space = input.search(/[\t\n\f\r ]/)
  if (space !== -1) return scanAttributes(input, space + 1)
  return null
}

function scanData(s: string, from: number): string | null {
  let i = s.indexOf('<', from)
  while (i !== -1) {
    const hit = scanTag(s, i + 1)
    if (hit !== null) return hit
    i = s.indexOf('<', i + 1)
  }
  return null
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

/** After `<`: a start tag's name and attributes. */
function scanTag(s: string, from: number): string | null {
  let i = from
  // A tag name starts with a letter; `<%`, `<!`, `</` and a `<` followed by a space are not start tags.
  if (i >= s.length || !isLetter(s.charCodeAt(i))) return null
  let j = i
  while (j < s.length && !/[\t\n\f\r />]/.test(s[j]!)) j++
  const name = s.slice(i, j).toLowerCase().replace(/\0/g, '')
  if (TAGS.has(name)) return `<${name}`
  i = j
  return scanAttributes(s, i)
}

/** Attributes up to `>` (or the end of the input, as a browser keeps reading past it). */
function scanAttributes(s: string, from: number): string | null {
  let i = from
  const n = s.length
  while (i < n) {
    while (i < n && /[\t\n\f\r /\0]/.test(s[i]!)) i++
    if (i >= n || s[i] === '>') return null
    let j = i + 1
    while (j < n && !/[\t\n\f\r />=]/.test(s[j]!)) j++
    const name = s.slice(i, j).toLowerCase().replace(/\0/g, '')
    i = j
    while (i < n && /[\t\n\f\r ]/.test(s[i]!)) i++
    let value: string | undefined
    if (s[i] === '=') {
      i++
      while (i < n && /[\t\n\f\r ]/.test(s[i]!)) i++
      const q = s[i]
      if (q === '"' || q === "'" || q === '`') {
        const end = s.indexOf(q, i + 1)
        value = s.slice(i + 1, end === -1 ? n : end)
        i = end === -1 ? n : end + 1
      } else {
        let k = i
        while (k < n && !/[\t\n\f\r >]/.test(s[k]!)) k++
        value = s.slice(i, k)
        i = k
      }
    }
    if (value === undefined) continue
    // An event handler with code: `onerror=…` (a bare `onion` in prose is no handler).
    if (name.length > 2 && name.startsWith('on') && /^on[a-z]+$/.test(name)) return name
    {
      const v = value.replace(/[\0-\x20]|&#(?:x0*9|x0*a|x0*d|0*9|0*10|0*13);?|&(?:tab|newline);/gi, '').toLowerCase()
      if (URL_ATTRIBUTES.has(name) && SCHEMES.test(v)) return `${name}=${v.slice(0, v.indexOf(':') + 1)}`
      if (name === 'style' && (v.includes('expression(') || v.includes('url(javascript') || v.includes('behavior:'))) return 'style'
    }
  }
  return null
}

/** `@detectXSS`: see {@link detectHtml}; captures the reason (a tag, an attribute) as TX.0. */
export const detectXSS: OperatorFactory = () => (input, scope, capture) => {
  const reason = detectHtml(input)
  if (reason === null) return null
  if (capture) scope.setCaptures([reason])
  return input
}
