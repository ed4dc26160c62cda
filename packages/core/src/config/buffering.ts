import { checkNumber, checkObject, rejectUnknownKeys } from '@switchyard/strategies'
import { featureOptions } from './feature.js'

/** Options of the balancer's `buffering` (`true` is every default): nginx `proxy_buffering`. */
export interface BufferingOptions {
  /**
   * Bytes of one response held in memory, and of all responses together (`total`), before the
   * rest goes to a temporary file. A number sets `perRequest`.
   * @default { perRequest: 262_144, total: 67_108_864 } (256 KiB and 64 MiB; nginx holds 8 buffers of a page, 32-64 KiB, per request)
   */
  memory?: number | { perRequest?: number; total?: number }
  /**
   * Bytes of one response written to a temporary file at most (in the OS's temporary directory);
   * past it, and past the memory limits, the upstream is read at the client's pace again. `false`
   * or 0: memory only.
   * @default 1_073_741_824 (1 GiB, nginx proxy_max_temp_file_size)
   */
  disk?: number | false
}

export interface ResolvedBuffering {
  readonly perRequest: number
  readonly total: number
  readonly disk: number
}

/** Checks `buffering`; undefined when off. */
export function normalizeBuffering(input: unknown): ResolvedBuffering | undefined {
  const o = featureOptions(input, 'buffering', ['memory', 'disk'])
  if (o === undefined) return undefined
  const memory = typeof o.memory === 'number' ? { perRequest: o.memory } : checkObject(o.memory, 'buffering.memory')
  rejectUnknownKeys(memory, ['perRequest', 'total'], 'buffering.memory')
  return {
    perRequest: checkNumber(memory.perRequest, typeof o.memory === 'number' ? 'buffering.memory' : 'buffering.memory.perRequest', 256 * 1024, { integer: true }),
    total: checkNumber(memory.total, 'buffering.memory.total', 64 * 1024 * 1024, { integer: true }),
    disk: o.disk === false ? 0 : checkNumber(o.disk, 'buffering.disk', 1024 * 1024 * 1024, { integer: true }),
  }
}
