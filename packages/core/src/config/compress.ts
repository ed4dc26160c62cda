import * as zlib from 'node:zlib'
import { checkNumber, checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import { featureOptions } from './feature.js'

/** Options of the balancer's `compress` (`true` is every default): nginx `gzip` and `brotli`. */
export interface CompressOptions {
  /**
   * Encodings offered, in the order preferred when a client accepts several equally: `'br'`,
   * `'zstd'` (where the runtime has it: Node ≥ 22.15), `'gzip'`.
   * @default ['br', 'zstd', 'gzip'] (those the runtime has)
   */
  encodings?: readonly ('br' | 'zstd' | 'gzip')[]
  /**
   * Content types compressed (the part before `;`, compared in lower case): exact names, or a
   * `type/*` prefix.
   * @default text/*, JSON, JavaScript, XML (and `+json`, `+xml` types), SVG, WebAssembly
   */
  types?: readonly string[]
  /**
   * Responses smaller than this many bytes (by their `Content-Length`) are sent as they are: too
   * small to gain. A response of unknown length is compressed.
   * @default 1024 (nginx gzip_min_length is 20; the common advice, and Cloudflare's, is about 1 KB)
   */
  minSize?: number
  /**
   * Levels: gzip 1-9, brotli 0-11, zstd 1-22.
   * @default { gzip: 6, br: 4, zstd: 3 } (zlib's and zstd's defaults; brotli 4 for dynamic content: 11, its default, is far too slow to run per response)
   */
  level?: { gzip?: number; br?: number; zstd?: number }
}

export type Encoding = 'br' | 'zstd' | 'gzip'

export interface ResolvedCompress {
  readonly encodings: readonly Encoding[]
  readonly exact: ReadonlySet<string>
  readonly prefixes: readonly string[]
  readonly minSize: number
  readonly level: { readonly gzip: number; readonly br: number; readonly zstd: number }
}

export const HAS_ZSTD = typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function'

const DEFAULT_TYPES = [
  'text/*',
  'application/json',
  'application/javascript',
  'application/xml',
  'application/xhtml+xml',
  'application/rss+xml',
  'application/atom+xml',
  'application/ld+json',
  'application/manifest+json',
  'application/problem+json',
  'application/graphql-response+json',
  'image/svg+xml',
  'application/wasm',
]

/** Checks `compress`; undefined when off. */
export function normalizeCompress(input: unknown): ResolvedCompress | undefined {
  const o = featureOptions(input, 'compress', ['encodings', 'types', 'minSize', 'level'])
  if (o === undefined) return undefined
  const all: Encoding[] = HAS_ZSTD ? ['br', 'zstd', 'gzip'] : ['br', 'gzip']
  const encodings = o.encodings === undefined ? all : (o.encodings as unknown[])
  if (!Array.isArray(encodings) || encodings.length === 0 || !encodings.every((e) => e === 'br' || e === 'gzip' || e === 'zstd')) {
    throw new InvalidOptionError(`compress.encodings must be a list of 'br', 'zstd' and 'gzip', got ${describeValue(o.encodings)}`, { field: 'compress.encodings' })
  }
  if (encodings.includes('zstd') && !HAS_ZSTD) {
    throw new InvalidOptionError(`compress.encodings: 'zstd' needs Node ≥ 22.15 (this is ${process.version})`, { field: 'compress.encodings' })
  }
  const types = o.types === undefined ? DEFAULT_TYPES : (o.types as unknown[])
  if (!Array.isArray(types) || !types.every((t) => typeof t === 'string' && t.includes('/'))) {
    throw new InvalidOptionError(`compress.types must be a list of content types, got ${describeValue(o.types)}`, { field: 'compress.types' })
  }
  const level = checkObject(o.level, 'compress.level')
  rejectUnknownKeys(level, ['gzip', 'br', 'zstd'], 'compress.level')
  return {
    encodings: encodings as Encoding[],
    exact: new Set((types as string[]).filter((t) => !t.endsWith('/*')).map((t) => t.toLowerCase())),
    prefixes: (types as string[]).filter((t) => t.endsWith('/*')).map((t) => t.slice(0, -1).toLowerCase()),
    minSize: checkNumber(o.minSize, 'compress.minSize', 1024, { integer: true }),
    level: {
      gzip: checkNumber(level.gzip, 'compress.level.gzip', 6, { min: 1, max: 9, integer: true }),
      br: checkNumber(level.br, 'compress.level.br', 4, { min: 0, max: 11, integer: true }),
      zstd: checkNumber(level.zstd, 'compress.level.zstd', 3, { min: 1, max: 22, integer: true }),
    },
  }
}
