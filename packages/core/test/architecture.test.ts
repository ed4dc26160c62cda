import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const SRC = new URL('../src/', import.meta.url)
const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
const source = (f: string) => readFileSync(new URL(f, SRC), 'utf8')

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
    expect(files.length).toBeGreaterThan(15) // the walk saw the tree
  })

  it('only undici-handler.ts implements undici’s handler callbacks (moving to undici 8 is that file)', () => {
    // A method definition (`  onError(err: Error): void {`), not a call.
    const callback =
      /^\s+(?:override\s+)?(onConnect|onHeaders|onData|onComplete|onError|onUpgrade|onRequestStart|onResponseStart|onResponseData|onResponseEnd|onResponseError)\([^)]*\)(?::[^{=;]*)?\s*\{/m
    const implementing = files.filter((f) => callback.test(source(f)))
    expect(implementing).toEqual(['undici-handler.ts'])
  })
})
