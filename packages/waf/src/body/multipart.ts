/** One part of a `multipart/form-data` body. */
export interface MultipartPart {
  /** The `name` of its Content-Disposition. */
  readonly name: string
  /** The `filename`, when the part is a file. */
  readonly filename: string | undefined
  /** Its header lines as sent (`Content-Type: text/plain`). */
  readonly headers: string[]
  readonly value: string
}

export interface MultipartContent {
  readonly parts: MultipartPart[]
  readonly error: string | undefined
}

/** The boundary of a `multipart/*` Content-Type (RFC 2046 5.1.1), or `undefined`. */
export function boundaryOf(contentType: string): string | undefined {
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  return m === null ? undefined : (m[1] ?? m[2])
}

/**
 * A `multipart/form-data` body (RFC 7578) into its parts, byte strings in and out. What a sender
 * gets wrong — no boundary, a part without a closing boundary, a part without a name — is a body
 * error (ModSecurity's MULTIPART_STRICT_ERROR family, in one message); what could be read is
 * still given back, so it is still inspected.
 */
export function parseMultipart(body: string, contentType: string): MultipartContent {
  const boundary = boundaryOf(contentType)
  if (boundary === undefined) return { parts: [], error: 'the multipart body has no boundary' }
  const delimiter = `--${boundary}`
  const parts: MultipartPart[] = []
  let error: string | undefined
  let at = body.indexOf(delimiter)
  if (at === -1) return { parts, error: 'the multipart body has no part' }
  while (at !== -1) {
    let start = at + delimiter.length
    if (body.startsWith('--', start)) return { parts, error }
    if (body.startsWith('\r\n', start)) start += 2
    else if (body[start] === '\n') start += 1
    const next = body.indexOf(`\n${delimiter}`, start)
    const end = next === -1 ? body.length : body[next - 1] === '\r' ? next - 1 : next
    if (next === -1) error ??= 'the multipart body does not end with its closing boundary'
    const raw = body.slice(start, end)
    const split = /\r?\n\r?\n/.exec(raw)
    const head = split === null ? raw : raw.slice(0, split.index)
    const value = split === null ? '' : raw.slice(split.index + split[0].length)
    const headers = head.split(/\r?\n/).filter((h) => h !== '')
    const disposition = headers.find((h) => /^content-disposition\s*:/i.test(h)) ?? ''
    const name = param(disposition, 'name')
    if (name === undefined) error ??= 'a multipart part has no name'
    parts.push({ name: name ?? '', filename: param(disposition, 'filename'), headers, value })
    at = next === -1 ? -1 : next + 1
  }
  return { parts, error }
}

function param(header: string, key: string): string | undefined {
  const m = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i').exec(header)
  if (m === null) return undefined
  // Only an escaped quote is unescaped: a backslash elsewhere stays (a rule looks for it).
  return m[1] !== undefined ? m[1].replaceAll('\\"', '"') : m[2]
}
