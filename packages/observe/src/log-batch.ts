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
 * a destination's own per-write cost (sonic-boom measures each write's byte length) is paid once
 * per few hundred lines, on one flat string joined at once (not a rope of every line, which the
 * destination would flatten piece by piece). The cost: lines reach the destination up to
 * `flushMs` late, and a crash loses the batch, as with nginx's buffer.
 *
 * A request only hands over its trace and the time: the lines are made {@link FORMAT_EVERY} at a
 * time, in one tight loop (as the metrics' latency batch does), where the same formatting spread
 * over requests runs with the caches cold from the proxying between them.
 */
export class LineBatch {
  #chunks: string[] = []
  #chars = 0
  #timer: unknown
  readonly #traces: (RequestTrace | undefined)[] = new Array(FORMAT_EVERY)
  readonly #times = new Float64Array(FORMAT_EVERY)
  /** The lines made in one go, before they are joined. */
  readonly #made: (string | undefined)[] = new Array(FORMAT_EVERY).fill(undefined)
  #pending = 0
  /** Characters a line takes, on average over the last lines made (before any: every line is made at once). */
  #lineChars = Number.POSITIVE_INFINITY
  readonly #flushNow = (): void => this.flush()

  constructor(
    private readonly destination: LogDestination,
    private readonly bufferBytes: number,
    private readonly flushMs: number,
    private readonly format: (t: RequestTrace, time: number) => string,
    private readonly timer: FlushTimer = realTimer,
  ) {}

  /**
   * One request's line, made later: with the next {@link FORMAT_EVERY} requests' or when `bufferBytes`
   * would be reached with them (judged by the lines made so far), or at the flush.
   */
  add(trace: RequestTrace, time: number): void {
    const n = this.#pending
    this.#traces[n] = trace
    this.#times[n] = time
    this.#pending = n + 1
    if (this.#pending === FORMAT_EVERY || this.#chars + this.#pending * this.#lineChars >= this.bufferBytes) {
      this.#formatPending()
      if (this.#chars >= this.bufferBytes) {
        this.flush()
        return
      }
    }
    if (this.#timer === undefined) this.#timer = this.timer.setTimeout(this.#flushNow, this.flushMs)
  }

  /** Writes what is pending now. */
  flush(): void {
    if (this.#timer !== undefined) {
      this.timer.clearTimeout(this.#timer)
      this.#timer = undefined
    }
    this.#formatPending()
    const chunks = this.#chunks
    if (chunks.length === 0) return
    this.#chunks = []
    this.#chars = 0
    this.destination.write(chunks.length === 1 ? chunks[0]! : chunks.join(''))
  }

  #formatPending(): void {
    const n = this.#pending
    if (n === 0) return
    this.#pending = 0
    const traces = this.#traces
    const made = this.#made
    for (let i = 0; i < n; i++) {
      made[i] = this.format(traces[i]!, this.#times[i]!)
      traces[i] = undefined // not kept past its line
    }
    // Joined at once into one flat string, kept until the write: a line as made is a tree of a
    // score of string pieces, three times its size, which every young collection before the write
    // would copy (the access log's survivors per collection, Node 20, 64 KiB batches: 119 KB as
    // trees, 34 KB joined). Slots past n are undefined, which join() takes for empty.
    const chunk = n === 1 ? made[0]! : made.join('')
    made.fill(undefined, 0, n)
    this.#chunks.push(chunk)
    // String length counts UTF-16 units, not bytes; close enough for a flush threshold.
    this.#chars += chunk.length
    this.#lineChars = chunk.length / n
  }
}

/**
 * Requests whose lines are made together. Small enough that the traces waiting (a few hundred
 * bytes each) are rarely still alive at the next young-generation collection, large enough for
 * the loop to run warm: at 20 000 requests a second, 64 wait 3 ms.
 */
const FORMAT_EVERY = 64

/** JSON of strings that repeat from line to line (methods, upstream ids), made once each; bounded. */
const QUOTED = new Map<string, string>()
const QUOTED_KEPT = 1024

function quotedOnce(s: string): string {
  let q = QUOTED.get(s)
  if (q === undefined) {
    q = JSON.stringify(s)
    if (QUOTED.size < QUOTED_KEPT) QUOTED.set(s, q)
  }
  return q
}

/** Characters a JSON string holds as they are: printable ASCII but `"` and `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/**
 * One access-log line as pino writes it (`level`, `time`, the fields, `msg`; newline-terminated),
 * built directly: the fields are fixed, so no generic serializer walks them. A path of printable
 * ASCII without `"` or `\` is quoted as it is, others go through `JSON.stringify` (escaping), as
 * do methods and upstream ids, once each; numbers are finite by construction.
 */
export function jsonLine(t: RequestTrace, messageJson: string, time: number): string {
  const attempts = t.attempts
  const n = attempts.length
  let attemptMs = ''
  for (let i = 0; i < n; i++) attemptMs += i === 0 ? msText(attempts[i]!.ms) : `,${msText(attempts[i]!.ms)}`
  const path = t.path
  let line = `{"level":${t.error === undefined ? 30 : 40},"time":${time},"method":${quotedOnce(t.method)},"path":${PLAIN.test(path) ? `"${path}"` : JSON.stringify(path)},"status":${t.status},"attempts":${n},"ms":${msText(t.ms)},"attemptMs":[${attemptMs}],"bytes":${t.bytes}`
  if (n !== 0) line += `,"upstream":${quotedOnce(attempts[n - 1]!.upstream)}`
  if (t.firstByteMs !== undefined) line += `,"firstByteMs":${msText(t.firstByteMs)}`
  if (t.error !== undefined) line += `,"error":${JSON.stringify(t.error)}`
  const cache = n === 0 ? undefined : attempts[n - 1]!.cache
  if (cache !== undefined) line += `,"cache":"${cache}"`
  return `${line},"msg":${messageJson}}\n`
}

/** ms to three decimals (µs): enough for a log, and short. */
export const round = (ms: number): number => Math.round(ms * 1000) / 1000

const FRACTION = ['.', '.0', '.00']

/**
 * `round(ms)` as JSON writes it (`12`, `0.5`, `0.123`), from whole microseconds: a small integer
 * converts to text several times faster than a fraction does. Outside a 30-bit count of µs
 * (about 18 minutes), or for a value that is not a finite number ≥ 0, the number's own text.
 */
export function msText(ms: number): string {
  const us = Math.round(ms * 1000)
  if (!(us >= 0 && us < 0x40000000)) return `${us / 1000}`
  const whole = (us / 1000) | 0
  let frac = us - whole * 1000
  if (frac === 0) return `${whole}`
  // Trailing zeros go, as in the number's own text (0.5, not 0.500).
  let digits = 3
  while (frac % 10 === 0) {
    frac /= 10
    digits--
  }
  const text = `${frac}`
  return `${whole}${FRACTION[digits - text.length]!}${text}`
}
