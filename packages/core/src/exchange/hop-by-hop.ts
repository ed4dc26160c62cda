/*
 * Hop-by-hop headers, removed both ways (RFC 9110 7.6.1): Connection, Proxy-Connection,
 * Keep-Alive, TE, Transfer-Encoding, Upgrade, and every header the Connection header names. Read
 * on flat `[name, value, name, value]` arrays, as Node gives `req.rawHeaders` and `res.writeHead()`
 * takes them, so no header object is built per request.
 */

/** Hop-by-hop names, lower case (RFC 9110 7.6.1). `expect` is answered by Node itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'transfer-encoding',
  'upgrade',
  'expect',
])

/** Lengths of hop-by-hop names, to skip lower-casing most header names. */
const HOP_LENGTHS = new Set([...HOP_BY_HOP].map((h) => h.length))

export function isHopByHop(name: string): boolean {
  return HOP_LENGTHS.has(name.length) && HOP_BY_HOP.has(name.toLowerCase())
}

export function equalsLower(name: string, lower: string): boolean {
  return name.length === lower.length && (name === lower || name.toLowerCase() === lower)
}

/**
 * Names listed in a Connection header value beyond `close` and `keep-alive`, lower case, or
 * undefined when there are none (the common case).
 */
export function connectionListed(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined
  // The usual values, without splitting: nearly every request and response carries one of them.
  if (value.length <= 10) {
    const v = value.toLowerCase()
    if (v === 'keep-alive' || v === 'close') return undefined
  }
  let listed: Set<string> | undefined
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase()
    if (t === '' || t === 'close' || t === 'keep-alive') continue
    listed ??= new Set()
    listed.add(t)
  }
  return listed
}

/** Removes from a flat header list every header named in a `Connection` value (RFC 9110 7.6.1). */
export function dropConnectionListed(headers: string[], connection: string | undefined): void {
  const listed = connectionListed(connection)
  if (listed === undefined) return
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (listed.has(headers[i]!.toLowerCase())) headers.splice(i, 2)
  }
}
