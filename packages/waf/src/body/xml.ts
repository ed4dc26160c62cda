/** What a rule can read of an XML body: `XML:/*` (the text of the document) and `XML://@*` (every attribute's value). */
export interface XmlContent {
  readonly text: string
  readonly attributes: string[]
  readonly error: string | undefined
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

function decodeEntities(s: string): string {
  if (s.indexOf('&') === -1) return s
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10)
      return code <= 0x10ffff ? Buffer.from(String.fromCodePoint(code), 'utf8').toString('latin1') : m
    }
    return ENTITIES[e.toLowerCase()] ?? m
  })
}

/**
 * Reads an XML body well enough to inspect it (not to validate it): elements, attributes, text,
 * CDATA, comments, processing instructions and a DOCTYPE are told apart; the text of the document
 * is what `XML:/*` holds (the string value of the root element), and every attribute value is one
 * `XML://@*`. A document that does not close what it opens is a body error, as for ModSecurity's
 * libxml2, but what was read is still inspected.
 */
export function parseXml(s: string): XmlContent {
  let text = ''
  const attributes: string[] = []
  const open: string[] = []
  let i = 0
  const n = s.length
  let error: string | undefined
  while (i < n) {
    const lt = s.indexOf('<', i)
    if (lt === -1) {
      if (open.length > 0) text += decodeEntities(s.slice(i))
      break
    }
    if (open.length > 0) text += decodeEntities(s.slice(i, lt))
    if (s.startsWith('<!--', lt)) {
      const end = s.indexOf('-->', lt + 4)
      i = end === -1 ? n : end + 3
    } else if (s.startsWith('<![CDATA[', lt)) {
      const end = s.indexOf(']]>', lt + 9)
      text += s.slice(lt + 9, end === -1 ? n : end)
      i = end === -1 ? n : end + 3
    } else if (s[lt + 1] === '?' || s[lt + 1] === '!') {
      // A processing instruction or a DOCTYPE (its internal subset may hold `>` inside brackets).
      let depth = 0
      let j = lt + 2
      while (j < n && !(s[j] === '>' && depth === 0)) {
        if (s[j] === '[') depth++
        else if (s[j] === ']') depth--
        j++
      }
      i = j + 1
    } else if (s[lt + 1] === '/') {
      const end = s.indexOf('>', lt)
      const name = s.slice(lt + 2, end === -1 ? n : end).trim()
      if (open.pop() !== name) error ??= `the XML body closes </${name}> where it did not open it`
      i = end === -1 ? n : end + 1
    } else {
      const tag = /^<([^\s/>]+)/.exec(s.slice(lt, lt + 256))
      if (tag === null) {
        error ??= 'the XML body has a < that opens nothing'
        i = lt + 1
        continue
      }
      let j = lt + tag[0].length
      const attr = /\s*([^\s=/>]+)\s*=\s*("([^"]*)"|'([^']*)')|\s*(\/?>)/y
      let selfClosing = false
      let closed = false
      while (j < n) {
        attr.lastIndex = j
        const m = attr.exec(s)
        if (m === null) {
          error ??= `the XML body's tag <${tag[1]}> is not well formed`
          break
        }
        j = attr.lastIndex
        if (m[5] !== undefined) {
          selfClosing = m[5] === '/>'
          closed = true
          break
        }
        attributes.push(decodeEntities(m[3] ?? m[4] ?? ''))
      }
      if (!closed) {
        i = j === lt ? lt + 1 : j
        if (j >= n) error ??= `the XML body ends inside <${tag[1]}>`
        const gt = s.indexOf('>', j)
        i = gt === -1 ? n : gt + 1
        continue
      }
      if (!selfClosing) open.push(tag[1]!)
      i = j
    }
  }
  if (open.length > 0) error ??= `the XML body does not close <${open[open.length - 1]}>`
  return { text, attributes, error }
}
