import type { Clock } from '@switchyard/strategies'

/**
 * The simulator's virtual clock: a binary heap of timers, run in time order by `runUntil`. Ties
 * run in the order they were set. O(log n) per timer, for millions of events.
 */
export class SimClock implements Clock {
  #now = 0
  #seq = 0
  #heap: Array<{ at: number; seq: number; fn: (() => void) | undefined }> = []

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn: fn as (() => void) | undefined }
    const heap = this.#heap
    heap.push(timer)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
    return timer
  }

  clearTimeout(handle: unknown): void {
    if (handle !== null && typeof handle === 'object') (handle as { fn: unknown }).fn = undefined // skipped when due
  }

  /** Runs every timer due up to `end` (ms), in order; time then stands at `end`. */
  runUntil(end: number): void {
    const heap = this.#heap
    while (heap.length !== 0 && heap[0]!.at <= end) {
      const timer = this.#pop()
      this.#now = timer.at
      timer.fn?.()
    }
    this.#now = end
  }

  /**
   * Runs to `end` as {@link runUntil} does, but lets the real event loop turn every `stepMs` of
   * virtual time, so promise continuations (an active probe's verdict, a queue admission) run
   * within `stepMs` of when they would have. Deterministic: nothing real-time decides anything.
   */
  async runUntilAsync(end: number, stepMs: number): Promise<void> {
    while (this.#now < end) {
      this.runUntil(Math.min(end, this.#now + stepMs))
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }

  #pop(): { at: number; seq: number; fn: (() => void) | undefined } {
    const heap = this.#heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length !== 0) {
      heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
        i = m
      }
    }
    return top
  }
}

function before(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
