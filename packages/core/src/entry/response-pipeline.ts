import type { Transform } from 'node:stream'
import type { ResolvedBuffering } from '../config/buffering.js'
import { type BufferBudget, type BufferSink, ResponseBuffer } from './response-buffer.js'

/**
 * What stands between the upstream's body and the client when the balancer changes how it is
 * delivered: the response encoder (`compress`, compress.ts), the slow-client buffer (`buffering`,
 * response-buffer.ts), or both (the encoder's output is what is buffered). Backpressure runs the
 * whole way: the client's socket pauses the buffer's feeding or the encoder, a full encoder or a
 * buffer at its limits pauses the upstream (`resumeUpstream` when there is room again).
 */
export class ResponsePipeline {
  readonly #encoder: Transform | undefined
  readonly #buffer: ResponseBuffer | undefined
  readonly #sink: BufferSink & { destroy(err?: Error): void }
  readonly #resumeUpstream: () => void
  #started = false

  constructor(sink: BufferSink & { destroy(err?: Error): void }, encoder: Transform | undefined, buffering: ResolvedBuffering | undefined, budget: BufferBudget, resumeUpstream: () => void) {
    this.#sink = sink
    this.#encoder = encoder
    this.#resumeUpstream = resumeUpstream
    this.#buffer = buffering === undefined ? undefined : new ResponseBuffer(sink, buffering, budget, () => (encoder === undefined ? resumeUpstream() : encoder.resume()))
  }

  /** A chunk of the upstream's body; false when the upstream must pause. */
  write(chunk: Buffer): boolean {
    const encoder = this.#encoder
    if (encoder === undefined) return this.#buffer!.write(chunk)
    if (!this.#started) this.#start(encoder)
    if (encoder.write(chunk)) return true
    encoder.once('drain', this.#resumeUpstream) // its output waits: the upstream waits too
    return false
  }

  end(): void {
    const encoder = this.#encoder
    if (encoder === undefined) {
      this.#buffer!.end()
      return
    }
    if (!this.#started) this.#start(encoder)
    encoder.end()
  }

  /** The client went away or the response failed: everything held is dropped, files removed. */
  destroy(): void {
    this.#encoder?.destroy()
    this.#buffer?.destroy()
  }

  /** The encoder's output, to the buffer or the client, paused while neither takes more. */
  #start(encoder: Transform): void {
    this.#started = true
    const buffer = this.#buffer
    const sink = this.#sink
    encoder.on('data', (out: Buffer) => {
      if (buffer !== undefined) {
        if (!buffer.write(out)) encoder.pause() // resumed by the buffer when it has room
        return
      }
      if (sink.write(out) || sink.writableLength < 64 * 1024) return
      encoder.pause()
      sink.once('drain', () => encoder.resume())
    })
    encoder.once('end', () => (buffer === undefined ? sink.end() : buffer.end()))
    encoder.once('error', (err) => {
      buffer?.destroy()
      sink.destroy(err)
    })
  }
}
