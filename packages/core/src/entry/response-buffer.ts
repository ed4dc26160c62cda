import { close, open, read, unlink, write } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { ResolvedBuffering } from '../config/buffering.js'

/** What the buffer writes to: the client's response. */
export interface BufferSink {
  write(chunk: Buffer): boolean
  end(): void
  once(event: 'drain', listener: () => void): unknown
  readonly writableLength: number
}

/** The memory every response buffer of one balancer may hold together (`buffering.memory.total`). */
export interface BufferBudget {
  used: number
  readonly max: number
}

/** Bytes read back from a temporary file at a time. */
const READ_SIZE = 64 * 1024
/** A client socket holding this much unsent is full: wait for it to drain (as the entry does without a buffer). */
const SOCKET_BYTES = 64 * 1024
/** Temporary files start with this, so they are easy to recognise (and to count, in tests). */
export const TEMP_PREFIX = 'switchyard-buffer-'

/**
 * nginx's `proxy_buffering` for one response: the upstream's body is taken as fast as the upstream
 * sends it — into memory up to `memory.perRequest` bytes (and while all buffers of the balancer
 * hold under `memory.total`), then into a temporary file up to `disk` bytes — and fed to the
 * client at the client's pace. The upstream's connection is freed when its body has ended, not
 * when a slow client has read it. Only when both limits are reached is the upstream paused (the
 * entry's `resume` is called once there is room again). The file is removed on every path: the
 * end, the client going away, an error.
 */
export class ResponseBuffer {
  readonly #sink: BufferSink
  readonly #options: ResolvedBuffering
  readonly #budget: BufferBudget
  readonly #onRoom: () => void
  /** Chunks held in memory, in order, before anything in the file. */
  #memory: Buffer[] = []
  #memoryBytes = 0
  /** The temporary file, once the memory limit was passed: everything after that point goes there. */
  #fd = -1
  #path: string | undefined = undefined
  #opening = false
  #written = 0
  #flushed = 0
  #read = 0
  #writes: Promise<void> = Promise.resolve()
  #ended = false
  #done = false
  #pumping = false
  #waitingRoom = false

  constructor(sink: BufferSink, options: ResolvedBuffering, budget: BufferBudget, onRoom: () => void) {
    this.#sink = sink
    this.#options = options
    this.#budget = budget
    this.#onRoom = onRoom
  }

  /** A chunk of the upstream's body; false when the upstream must pause (both limits reached). */
  write(chunk: Buffer): boolean {
    if (this.#done) return true
    const nothingHeld = this.#memory.length === 0 && this.#fd === -1 && !this.#opening
    if (nothingHeld && !this.#pumping && (this.#sink.write(chunk) || this.#sink.writableLength < SOCKET_BYTES)) return true
    if (nothingHeld && !this.#pumping) {
      // The client is full now: what comes next waits here.
      this.#pumping = true
      this.#sink.once('drain', this.#pump)
      return true
    }
    const o = this.#options
    if (this.#fd === -1 && !this.#opening && this.#memoryBytes + chunk.length <= o.perRequest && this.#budget.used + chunk.length <= this.#budget.max) {
      this.#memory.push(chunk)
      this.#memoryBytes += chunk.length
      this.#budget.used += chunk.length
      return true
    }
    if (o.disk > 0 && this.#written + chunk.length <= o.disk) {
      this.#append(chunk)
      return true
    }
    this.#memory.push(chunk) // held anyway (undici has handed it over); the upstream waits from now
    this.#memoryBytes += chunk.length
    this.#budget.used += chunk.length
    this.#waitingRoom = true
    return false
  }

  /** The upstream's body has ended: the response ends once the client has had all of it. */
  end(): void {
    this.#ended = true
    if (!this.#pumping) this.#finishIfEmpty()
  }

  /** The client went away or the response failed: drop what is held, remove the file. */
  destroy(): void {
    if (this.#done) return
    this.#done = true
    this.#release()
  }

  #append(chunk: Buffer): void {
    if (this.#fd === -1 && !this.#opening) {
      this.#opening = true
      this.#path = join(tmpdir(), `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`)
      const path = this.#path
      this.#writes = new Promise<void>((resolve, reject) =>
        open(path, 'w+', 0o600, (err, fd) => {
          this.#opening = false
          if (err !== null) return reject(err)
          if (this.#done) {
            close(fd, () => unlink(path, () => {}))
            return resolve()
          }
          this.#fd = fd
          resolve()
        }),
      )
    }
    const at = this.#written
    this.#written += chunk.length
    this.#writes = this.#writes.then(
      () =>
        new Promise<void>((resolve, reject) => {
          if (this.#done) return resolve()
          write(this.#fd, chunk, 0, chunk.length, at, (err) => {
            if (err !== null) return reject(err)
            this.#flushed = at + chunk.length
            resolve()
            if (!this.#pumping) this.#pump()
          })
        }),
    )
    this.#writes.catch(() => this.#fail())
  }

  /** Feeds the client what is held, while its socket takes it. */
  readonly #pump = (): void => {
    this.#pumping = true
    const sink = this.#sink
    while (!this.#done && this.#memory.length !== 0) {
      const chunk = this.#memory.shift()!
      this.#memoryBytes -= chunk.length
      this.#budget.used -= chunk.length
      if (this.#waitingRoom) {
        this.#waitingRoom = false
        this.#onRoom()
      }
      if (!sink.write(chunk) && sink.writableLength >= SOCKET_BYTES) {
        sink.once('drain', this.#pump)
        return
      }
    }
    if (this.#done) return
    if (this.#read < this.#flushed) {
      this.#readFile()
      return
    }
    this.#pumping = false
    if (this.#fd === -1 && !this.#opening) this.#finishIfEmpty()
    else if (this.#ended && this.#read === this.#written) this.#finishIfEmpty()
  }

  #readFile(): void {
    const size = Math.min(READ_SIZE, this.#flushed - this.#read)
    const buffer = Buffer.allocUnsafe(size)
    read(this.#fd, buffer, 0, size, this.#read, (err, n) => {
      if (this.#done) return
      if (err !== null || n === 0) return this.#fail()
      this.#read += n
      const chunk = n === size ? buffer : buffer.subarray(0, n)
      if (!this.#sink.write(chunk) && this.#sink.writableLength >= SOCKET_BYTES) this.#sink.once('drain', this.#pump)
      else this.#pump()
    })
  }

  #finishIfEmpty(): void {
    if (!this.#ended || this.#done || this.#memory.length !== 0 || this.#read < this.#written) return
    this.#done = true
    this.#release()
    this.#sink.end()
  }

  #fail(): void {
    this.destroy()
    ;(this.#sink as { destroy?: () => void }).destroy?.()
  }

  #release(): void {
    this.#budget.used -= this.#memoryBytes
    this.#memory = []
    this.#memoryBytes = 0
    const path = this.#path
    if (path === undefined) return
    this.#path = undefined
    // After pending writes (a write into a closed descriptor would fail): close, then remove.
    void this.#writes
      .catch(() => {})
      .then(() => {
        const fd = this.#fd
        this.#fd = -1
        if (fd !== -1) close(fd, () => unlink(path, () => {}))
      })
  }
}
