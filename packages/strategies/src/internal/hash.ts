/**
 * 32-bit string hashing for the hash strategies: FNV-1a over the UTF-16 code units, then
 * murmur3's fmix32 finalizer so that similar keys ("10.0.0.1", "10.0.0.2") spread over the whole
 * range. Fast, allocation-free, and stable across processes and versions (a key maps to the same
 * upstream on every instance).
 */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return fmix32(h)
}

/** murmur3 fmix32: an avalanche step over 32 bits. */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
