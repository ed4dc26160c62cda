/** `t:hexEncode`: each byte as two lower-case hex digits. */
export function hexEncode(s: string): string {
  return Buffer.from(s, 'latin1').toString('hex')
}

/** `t:hexDecode`: pairs of hex digits to bytes (what is not hex ends it). */
export function hexDecode(s: string): string {
  const m = /^(?:[0-9a-fA-F]{2})*/.exec(s)
  return Buffer.from(m === null ? '' : m[0], 'hex').toString('latin1')
}

/** `t:sqlHexDecode`: MySQL's `0xHEX` literals to their bytes. */
export function sqlHexDecode(s: string): string {
  return /0x[0-9a-f]{2}/i.test(s) ? s.replace(/0x((?:[0-9a-fA-F]{2})+)/g, (_, h: string) => Buffer.from(h, 'hex').toString('latin1')) : s
}
