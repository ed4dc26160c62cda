import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

/*
 * The core's layers, held by reading its imports (src/README.md walks a request through them):
 *
 *   (root)     index.ts, balancer.ts: the public API, which makes the rest
 *   entry/     the ways in: lb.handler, lb.fetch, lb.upgrade, lb.connect, lb.dispatcher
 *   exchange/  one request across its attempts
 *   fleet/     the upstreams and what decides about them
 *   config/    the options, their defaults and checks; errors and event types
 *
 * A file imports from its own layer or the ones below it, never above.
 */
const SRC = new URL('../src/', import.meta.url)
const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
const source = (f: string) => readFileSync(new URL(f, SRC), 'utf8')
const LAYERS = ['config', 'fleet', 'exchange', 'entry', 'root'] as const
const layerOf = (file: string): (typeof LAYERS)[number] => {
  const top = file.includes('/') ? file.slice(0, file.indexOf('/')) : 'root'
  return (LAYERS as readonly string[]).includes(top) ? (top as (typeof LAYERS)[number]) : 'root'
}

/** Relative imports of a file, as paths under src (type-only imports included: a cycle of types is still a knot). */
function importsOf(file: string): string[] {
  const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : ''
  const out: string[] = []
  for (const m of source(file).matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
    const parts = `${dir}${m[1]}`.split('/')
    const path: string[] = []
    for (const p of parts) {
      if (p === '.') continue
      if (p === '..') path.pop()
      else path.push(p)
    }
    out.push(`${path.join('/')}.ts`)
  }
  return out
}

/** Lines of a file without its comments (so a comment naming a field is not a write to it). */
function code(file: string): string {
  return source(file)
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
}

describe('the core’s architecture', () => {
  it('has no import cycle between its files', () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]))
    const state = new Map<string, 'open' | 'done'>()
    const cycles: string[] = []
    const visit = (f: string, trail: string[]) => {
      if (state.get(f) === 'done') return
      if (state.get(f) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(f)), f].join(' → '))
        return
      }
      state.set(f, 'open')
      for (const g of graph.get(f) ?? []) visit(g, [...trail, f])
      state.set(f, 'done')
    }
    for (const f of files) visit(f, [])
    expect(cycles).toEqual([])
    expect(files.length).toBeGreaterThan(30) // the walk saw the tree
  })

  it('imports go down the layers only: entry → exchange → fleet → config', () => {
    const upward: string[] = []
    for (const f of files) {
      const mine = LAYERS.indexOf(layerOf(f))
      for (const g of importsOf(f)) if (LAYERS.indexOf(layerOf(g)) > mine) upward.push(`${f} imports ${g}`)
    }
    expect(upward).toEqual([])
    for (const layer of LAYERS) expect(files.some((f) => layerOf(f) === layer), layer).toBe(true)
  })

  it('only entry/ runs node:http (config/types.ts names its types for onError’s signature)', () => {
    const using = files.filter((f) => /from 'node:http'/.test(source(f)) && layerOf(f) !== 'entry')
    expect(using).toEqual(['config/types.ts'])
    expect(source('config/types.ts')).toMatch(/^import type \{[^}]+\} from 'node:http'$/m)
  })

  it('only fleet/ writes an upstream’s state, reason, ramp or weight (availability is the one writer of state)', () => {
    // A write through a reference (`u.state = …`); an object's own fields (`this.…`) are its own.
    const write = /(?<!this)\.(state|reason|downBy|rampStart|rampUntil|weight)\s*(?:[|&]?=)(?!=)/
    const writers = files.filter((f) => write.test(code(f)))
    expect(writers.every((f) => layerOf(f) === 'fleet'), writers.join(', ')).toBe(true)
    const stateWriters = files.filter((f) => /(?<!this)\.state\s*=(?!=)/.test(code(f)))
    expect(stateWriters).toEqual(['fleet/availability.ts'])
  })

  it('only an attempt begins and ends requests on an upstream (inFlight, load)', () => {
    const writers = files.filter((f) => /\.(inFlight|load)\s*(\+\+|--|[+-]?=(?!=))/.test(code(f)))
    expect(writers).toEqual(['exchange/attempt.ts'])
  })

  it('only exchange/undici-handler.ts implements undici’s handler callbacks (moving to undici 8 is that file)', () => {
    // A method definition (`  onError(err: Error): void {`), not a call.
    const callback =
      /^\s+(?:override\s+)?(onConnect|onHeaders|onData|onComplete|onError|onUpgrade|onRequestStart|onResponseStart|onResponseData|onResponseEnd|onResponseError)\([^)]*\)(?::[^{=;]*)?\s*\{/m
    const implementing = files.filter((f) => callback.test(source(f)))
    expect(implementing).toEqual(['exchange/undici-handler.ts'])
  })

  it('has no file over 400 lines', () => {
    const long = files.map((f) => [f, source(f).split('\n').length] as const).filter(([, n]) => n > 400)
    expect(long).toEqual([])
  })
})
