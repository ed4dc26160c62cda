const NAMED: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>', nbsp: '\xa0', apos: "'" }

/**
 * `t:htmlEntityDecode`: `&#DDD;`, `&#xHH;` (the `;` optional, the value kept to its low byte) and
 * the named entities ModSecurity knows (`&quot; &amp; &lt; &gt; &nbsp; &apos;`).
 */
export function htmlEntityDecode(s: string): string {
  if (s.indexOf('&') === -1) return s
  return s.replace(/&(?:#[xX]([0-9a-fA-F]+)|#([0-9]+)|([a-zA-Z]+));?/g, (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (hex !== undefined) return String.fromCharCode(Number.parseInt(hex.slice(-8), 16) & 0xff)
    if (dec !== undefined) return String.fromCharCode(Number.parseInt(dec.slice(-10), 10) & 0xff)
    return NAMED[name!.toLowerCase()] ?? whole
  })
}
