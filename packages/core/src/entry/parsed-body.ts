/**
 * Re-serializes a request body that a body parser (express.json(), express.urlencoded(),
 * express.raw(), express.text(), body-parser, Connect middleware) has already read into
 * `req.body`, so the upstream gets the body and not an empty request.
 *
 * - a Buffer or typed array is sent as it is; a string as UTF-8;
 * - an object or array as JSON for a JSON media type (`application/json`, `*+json`) or no
 *   `Content-Type`, and as a form for `application/x-www-form-urlencoded` (nested objects and
 *   arrays in the bracket notation `qs` reads, which `express.urlencoded({ extended: true })` uses);
 * - anything else: `undefined`, and the handler answers `SWY_ERR_BODY_CONSUMED`.
 */
export function serializeParsedBody(body: unknown, contentType: string | undefined): Buffer | undefined {
  if (Buffer.isBuffer(body)) return body
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body === null || typeof body !== 'object') return undefined
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase()
  if (type === '' || type === 'application/json' || type.endsWith('+json')) return Buffer.from(JSON.stringify(body), 'utf8')
  if (type === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams()
    appendForm(form, '', body)
    return Buffer.from(form.toString(), 'utf8')
  }
  return undefined
}

function appendForm(form: URLSearchParams, prefix: string, value: unknown): void {
  if (value === null || value === undefined) {
    if (prefix !== '') form.append(prefix, '')
  } else if (Array.isArray(value)) {
    // A flat list as repeated keys (`a=1&a=2`: what both qs and querystring read back as a list).
    const flat = value.every((v) => v === null || typeof v !== 'object')
    for (let i = 0; i < value.length; i++) appendForm(form, flat ? prefix : `${prefix}[${i}]`, value[i])
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) appendForm(form, prefix === '' ? k : `${prefix}[${k}]`, v)
  } else {
    form.append(prefix, String(value))
  }
}
