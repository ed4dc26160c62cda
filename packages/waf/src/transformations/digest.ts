import { createHash } from 'node:crypto'

/** `t:sha1` and `t:md5`: the digest, as bytes. */
export function sha1(s: string): string {
  return createHash('sha1').update(s, 'latin1').digest().toString('latin1')
}

export function md5(s: string): string {
  return createHash('md5').update(s, 'latin1').digest().toString('latin1')
}

/** `t:length`: the length in bytes, as decimal text. */
export function length(s: string): string {
  return String(s.length)
}
