import { Readable, Transform, type TransformCallback } from 'node:stream'
import type { RequestInfo } from '@switchyard/strategies'
import { type Dispatcher, Pool } from 'undici'
import type { ResolvedMirror } from '../config/mirror.js'

/** `lb.stats().mirror`: what the mirror did. */
export interface MirrorStats {
  /** Copies sent. */
  readonly sent: number
  /** Of those, the ones that failed (no answer, a connection error, a timeout); answers of any status are not failures. */
  readonly failed: number
  /** Requests chosen for a copy that were not mirrored: a body over `maxBody` or not readable twice, `maxConcurrent` reached, the client gone first. */
  readonly skipped: number
  /** Copies in flight now. */
  readonly inFlight: number
}

/**
 * Request mirroring for one balancer (nginx `mirror`, Envoy's request mirror policies): which
 * requests are copied, and the copies' sending — fire-and-forget, on pools of their own (or the
 * balancer `to` names), their answers read and dropped. Nothing here can delay or fail the
 * request that was copied: a copy is sent after its body is whole and never waited for.
 */
export class Mirror {
  sent = 0
  failed = 0
  skipped = 0
  /** Copies in flight. */
  pending = 0
  readonly #options: ResolvedMirror
  readonly #random: () => number
  readonly #timeouts: { headersTimeout: number; bodyTimeout: number }
  readonly #pools: Pool[]
  #next = 0

  constructor(options: ResolvedMirror, random: () => number, timeouts: { headers: number; body: number; connect: number }) {
    this.#options = options
    this.#random = random
    this.#timeouts = { headersTimeout: timeouts.headers, bodyTimeout: timeouts.body }
    this.#pools = options.targets.map((t) => new Pool(t.origin, { connections: options.maxConcurrent, connect: { timeout: timeouts.connect } }))
  }

  get maxBody(): number {
    return this.#options.maxBody
  }

  /** Whether this request is to be copied: the share drawn, then `when`. */
  wants(info: () => RequestInfo): boolean {
    const { share, when } = this.#options
    if (share < 1 && this.#random() >= share) return false
    if (when === undefined) return true
    try {
      return when(info()) === true
    } catch {
      return false // the predicate's throw is its own: the request goes on, uncopied
    }
  }

  /** Sends one copy, unless `maxConcurrent` are in flight. */
  send(method: string, path: string, headers: Dispatcher.DispatchOptions['headers'], body: Buffer | string | null): void {
    if (this.pending >= this.#options.maxConcurrent) {
      this.skipped++
      return
    }
    const pools = this.#pools
    let dispatcher: Dispatcher
    let origin: string
    let prefix = ''
    if (pools.length === 0) {
      dispatcher = this.#options.dispatcher!
      origin = 'http://mirror.invalid' // the balancer `to` names chooses its own upstream
    } else {
      const i = this.#next++ % pools.length
      const target = this.#options.targets[i]!
      dispatcher = pools[i]!
      origin = target.origin
      prefix = target.basePath
    }
    this.pending++
    this.sent++
    let request: Promise<Dispatcher.ResponseData>
    try {
      request = dispatcher.request({ origin, method: method as Dispatcher.HttpMethod, path: prefix + path, headers, body, ...this.#timeouts })
    } catch {
      request = Promise.reject(new Error('the copy could not be sent'))
    }
    request.then(
      (res) => res.body.dump().catch(() => {}),
      () => {
        this.failed++
      },
    ).finally(() => {
      this.pending--
    })
  }

  stats(): MirrorStats {
    return { sent: this.sent, failed: this.failed, skipped: this.skipped, inFlight: this.pending }
  }

  /** Closes the mirror's own pools (copies in flight are cut; a balancer given as `to` is its owner's). */
  async close(): Promise<void> {
    await Promise.all(this.#pools.map((p) => p.destroy()))
  }
}

/**
 * One request's copy. Its first attempt's dispatch options say what the body is: none or one in
 * memory, and the copy goes at once; a stream, and it is passed on through a tee that keeps what
 * goes by (up to `maxBody`) and sends the copy when the stream has ended. Every attempt of the
 * request then reads the same tee (an attempt that read none of it can be replayed, as before).
 */
export class MirrorCopy {
  #done = false
  #tee: BodyTee | undefined

  constructor(
    readonly mirror: Mirror,
    readonly method: string,
    readonly path: string,
  ) {}

  /** The attempt's dispatch options, with the tee as the body when there is one. */
  options(o: Dispatcher.DispatchOptions): Dispatcher.DispatchOptions {
    if (this.#tee !== undefined) return { ...o, body: this.#tee }
    if (this.#done) return o
    this.#done = true
    const body = o.body
    const mirror = this.mirror
    if (o.upgrade !== undefined && o.upgrade !== null) mirror.skipped++ // a tunnel is not copied
    else if (body === null || body === undefined) mirror.send(this.method, this.path, o.headers, null)
    else if (typeof body === 'string' || body instanceof Uint8Array) {
      if (Buffer.byteLength(body) > mirror.maxBody) mirror.skipped++
      else mirror.send(this.method, this.path, o.headers, typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength))
    } else if (body instanceof Readable) {
      this.#tee = new BodyTee(body, mirror.maxBody, (copy) => {
        if (copy === undefined) mirror.skipped++
        else mirror.send(this.method, this.path, o.headers, copy)
      })
      return { ...o, body: this.#tee }
    } else mirror.skipped++ // an iterable or a form a caller passed: not readable twice
    return o
  }

  /** Whether the body can be sent again: with a tee, whether no attempt has read from it. */
  replayable(): boolean | undefined {
    return this.#tee === undefined ? undefined : !this.#tee.readableDidRead
  }
}

/**
 * Passes a request body on unchanged while keeping a copy of it, up to `max` bytes; `done` gets
 * the copy when the body has ended (undefined past `max`, or when the body failed).
 */
class BodyTee extends Transform {
  #chunks: Buffer[] = []
  #size = 0
  readonly #max: number
  #done: ((copy: Buffer | undefined) => void) | undefined

  constructor(source: Readable, max: number, done: (copy: Buffer | undefined) => void) {
    super()
    this.#max = max
    this.#done = done
    this.on('error', () => this.#finish(undefined)) // the attempt reports its own failure
    // The client's failure is the body's: the attempt reading the tee sees the same error.
    source.once('error', (err) => this.destroy(err))
    source.once('close', () => {
      if (!source.readableEnded && !this.destroyed) this.destroy(source.errored ?? new Error('the request body ended early'))
    })
    source.pipe(this)
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#done !== undefined) {
      this.#size += chunk.length
      if (this.#size > this.#max) this.#finish(undefined)
      else this.#chunks.push(chunk)
    }
    callback(null, chunk)
  }

  override _flush(callback: TransformCallback): void {
    this.#finish(Buffer.concat(this.#chunks, this.#size))
    callback()
  }

  #finish(copy: Buffer | undefined): void {
    const done = this.#done
    this.#done = undefined
    this.#chunks = []
    done?.(copy)
  }
}
