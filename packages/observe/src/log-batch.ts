import type { Clock, RequestTrace } from '@switchyard/core'

/** Where {@link accessLog} writes its own JSON lines: anything with `write(string)` (a pino destination, a file stream, `process.stdout`). */
export interface LogDestination {
  write(chunk: string): unknown
}

/** The timers a {@link LineBatch} flushes on: a `Clock` without `now`. */
export type FlushTimer = Pick<Clock, 'setTimeout' | 'clearTimeout'>

const realTimer: FlushTimer = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

/**
 * Access-log lines gathered into one write per `bufferBytes` or per `flushMs`, whichever comes
 * first (nginx `access_log ... buffer=64k flush=1s`). One write per batch rather than per line:
 * a destination's own per-write cost (sonic-boom measures each write's byte length, which flattens
 * its whole pending buffer) is paid once per few hundred lines. The cost: lines reach the
 * destination up to `flushMs` late, and a crash loses the batch, as with nginx's buffer.
 */
export class LineBatch {
  #pending = ''
  #timer: unknown
  readonly #flushNow = (): void => this.flush()

  constructor(
    private readonly destination: LogDestination,
    private readonly bufferBytes: number,
    private readonly flushMs: number,
    private readonly timer: FlushTimer = realTimer,
  ) {}

  add(line: string): void {
    this.#pending += line
    // String length counts UTF-16 units, not bytes; close enough for a flush threshold.
    if (this.#pending.length >= this.bufferBytes) this.flush()
    else if (this.#timer === undefined) this.#timer = this.timer.setTimeout(this.#flushNow, this.flushMs)
  }

  /** Writes what is pending now. */
  flush(): void {
    if (this.#timer !== undefined) {
      this.timer.clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#pending === '') return
    const chunk = this.#pending
    this.#pending = ''
    this.destination.write(chunk)
  }
}

/**
 * One access-log line as pino writes it (`level`, `time`, the fields, `msg`; newline-terminated),
 * built directly: the fields are fixed, so no generic serializer walks them. Strings go through
 * `JSON.stringify` (escaping); numbers are finite by construction.
 */
export function jsonLine(t: RequestTrace, messageJson: string, time: number): string {
  const attempts = t.attempts
  const n = attempts.length
  let attemptMs = ''
  for (let i = 0; i < n; i++) attemptMs += i === 0 ? `${round(attempts[i]!.ms)}` : `,${round(attempts[i]!.ms)}`
  let line = `{"level":${t.error === undefined ? 30 : 40},"time":${time},"method":${JSON.stringify(t.method)},"path":${JSON.stringify(t.path)},"status":${t.status},"attempts":${n},"ms":${round(t.ms)},"attemptMs":[${attemptMs}],"bytes":${t.bytes}`
  if (n !== 0) line += `,"upstream":${JSON.stringify(attempts[n - 1]!.upstream)}`
  if (t.firstByteMs !== undefined) line += `,"firstByteMs":${round(t.firstByteMs)}`
  if (t.error !== undefined) line += `,"error":${JSON.stringify(t.error)}`
  const cache = n === 0 ? undefined : attempts[n - 1]!.cache
  if (cache !== undefined) line += `,"cache":"${cache}"`
  return `${line},"msg":${messageJson}}\n`
}

/** ms to three decimals (µs): enough for a log, and short. */
export const round = (ms: number): number => Math.round(ms * 1000) / 1000
