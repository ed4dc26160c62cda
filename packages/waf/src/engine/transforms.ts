import type { Transformation } from '../transformations/index.js'
import type { Entry } from './entry.js'

/**
 * A rule's transformations, interned as a path in one tree shared by every rule: `t:urlDecodeUni`
 * and `t:urlDecodeUni,t:lowercase` share their first node, so a value decoded once for one rule
 * is decoded for all (each value keeps its results by node id, engine/entry.ts).
 */
export class TransformNode {
  readonly #children = new Map<string, TransformNode>()
  constructor(
    readonly id: number,
    readonly parent: TransformNode | undefined,
    readonly fn: Transformation | undefined,
    readonly name: string,
  ) {}

  child(name: string, fn: Transformation, nextId: () => number): TransformNode {
    let node = this.#children.get(name)
    if (node === undefined) {
      node = new TransformNode(nextId(), this, fn, name)
      this.#children.set(name, node)
    }
    return node
  }

  #path: TransformNode[] | undefined
  /** The nodes from the first transformation to this one (for `multiMatch`), made once. */
  path(): TransformNode[] {
    if (this.#path === undefined) {
      const out: TransformNode[] = []
      for (let n: TransformNode | undefined = this; n !== undefined && n.fn !== undefined; n = n.parent) out.unshift(n)
      this.#path = out
    }
    return this.#path
  }
}

export class TransformTree {
  #ids = 0
  readonly root = new TransformNode(this.#ids++, undefined, undefined, '')
  readonly #next = (): number => this.#ids++

  intern(list: readonly (readonly [string, Transformation])[]): TransformNode {
    let node = this.root
    for (const [name, fn] of list) node = node.child(name, fn, this.#next)
    return node
  }
}

/**
 * A value after a chain of transformations, each step computed once per value and request (shared
 * by every rule whose chain starts the same way). Across requests, a value seen before is answered
 * by its verdicts (engine/verdicts.ts) before any transformation runs.
 */
export function transformed(entry: Entry, node: TransformNode): string {
  const fn = node.fn
  if (fn === undefined) return entry.value
  // The cache is node ids and results, side by side: a value meets a few of the tree's hundreds
  // of nodes (47 at most over the CRS 4 corpus at PL2), and an array indexed by node id would be
  // as long as the largest id met.
  const id = node.id
  let cache = entry.cache
  if (cache === undefined) entry.cache = cache = []
  else for (let i = 0; i < cache.length; i += 2) if (cache[i] === id) return cache[i + 1] as string
  const v = fn(node.parent === undefined ? entry.value : transformed(entry, node.parent))
  cache.push(id, v)
  return v
}
