import { DuplicateUpstreamError } from '../config/errors.js'
import type { ResolvedOptions, ResolvedUpstream } from '../config/resolved.js'
import { Upstream } from './upstream.js'

/**
 * The upstreams the balancer has, in order, and the small slot numbers strategies index their
 * tables by. It owns an upstream's life: insert, detach, drain and close its pool, free its slot.
 */
export class UpstreamRegistry {
  #all: Upstream[] = []
  /** The same upstreams by id: `find` (`lb.report`, `lb.update`, shared verdicts) and the duplicate check in O(1) in a large fleet. */
  readonly #byId = new Map<string, Upstream>()
  #freeSlots: number[] = []
  #nextSlot = 0
  readonly #options: ResolvedOptions

  constructor(options: ResolvedOptions) {
    this.#options = options
  }

  get all(): readonly Upstream[] {
    return this.#all
  }

  find(id: string): Upstream | undefined {
    return this.#byId.get(id)
  }

  /** Adds an upstream at the end; throws `DuplicateUpstreamError` on a duplicate id. */
  insert(config: ResolvedUpstream): Upstream {
    if (this.#byId.has(config.id)) {
      throw new DuplicateUpstreamError(
        `upstream id ${JSON.stringify(config.id)} is already in use; give one of them another id`,
        { field: 'id' },
      )
    }
    const slot = this.#freeSlots.pop() ?? this.#nextSlot++
    const u = new Upstream(config, slot, this.#options, this.#options.passive)
    this.#all.push(u)
    this.#byId.set(u.id, u)
    return u
  }

  /** Undoes an insert the strategy refused: the upstream never took traffic. */
  discard(u: Upstream): void {
    this.#all = this.#all.filter((x) => x !== u)
    this.#byId.delete(u.id)
    this.#freeSlots.push(u.index)
    void u.pool.destroy()
  }

  /** Takes an upstream out of the list; it still serves what it already has. */
  detach(u: Upstream): void {
    this.#all = this.#all.filter((x) => x !== u)
    this.#byId.delete(u.id)
  }

  /**
   * Ends a detached upstream: with `drain`, once its in-flight and queued requests are done, it
   * closes its pool; without, it destroys the pool at once. Its slot is then free for reuse.
   */
  async retire(u: Upstream, drain: boolean): Promise<void> {
    const busy = () => u.inFlight !== 0 || (u.queue !== undefined && (u.queue.size !== 0 || u.queue.pending !== 0))
    if (drain && busy()) await new Promise<void>((resolve) => (u.onIdle = resolve))
    u.onIdle = undefined
    await (drain ? u.pool.close() : u.pool.destroy())
    this.#freeSlots.push(u.index)
  }
}
