import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * Pointers in the sources and docs lead somewhere a reader of the repository can go: every path
 * written from the repository's root (`packages/…`, `examples/…`, `test/…`, `bench/…`, `scripts/…`,
 * `docs/…`, `.ci/…`) names a file or folder that exists, and nothing points at the team's notes
 * outside it.
 */
const root = fileURLToPath(new URL('..', import.meta.url))
const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => /\.(ts|mts|mjs|js|md|json|yaml|yml)$/.test(f) && f !== 'pnpm-lock.yaml' && !f.startsWith('bench/results/') && existsSync(join(root, f)))

const ROOTED = /(?<![\w./-])((?:packages|examples|test|bench|scripts|docs|\.ci)\/[\w./-]*[\w-])/g
/** Paths a file builds at run time or a build makes, not pointers to read. */
const MADE = /(^|\/)(dist|node_modules|results|test-results|\.snippets)(\/|$)|\*|vitest-results\.json$/

describe('pointers in the repository', () => {
  it('every path from the root that a source or doc names exists', () => {
    const broken: string[] = []
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8')
      for (const m of text.matchAll(ROOTED)) {
        const path = m[1]!.replace(/[.]+$/, '')
        if (MADE.test(path) || existsSync(join(root, path))) continue
        broken.push(`${file}: ${path}`)
      }
    }
    expect(broken).toEqual([])
  })

  it('nothing points at notes outside the repository (DESIGN.md, STYLE.md, shared/)', () => {
    const outside = files.filter((f) => f !== 'test/repo-pointers.test.ts' && /\b(DESIGN|STYLE)\.md\b|\bshared\/(DESIGN|STYLE|reference)/.test(readFileSync(join(root, f), 'utf8')))
    expect(outside).toEqual([])
  })
})
