import { readFileSync } from 'node:fs'
import * as core from '@switchyard/core'
import { SwitchyardError } from '@switchyard/core'
import * as waf from '@switchyard/waf'
import { describe, expect, it } from 'vitest'

const classes = Object.entries({ ...core, ...waf }).filter(
  ([, value]) => typeof value === 'function' && (value as { prototype?: unknown }).prototype instanceof Error,
) as [string, typeof SwitchyardError][]

describe('error codes', () => {
  it('every exported error class has a unique SWY_ERR_ code', () => {
    expect(classes.length).toBeGreaterThanOrEqual(10)
    const codes = classes.filter(([name]) => name !== 'SwitchyardError').map(([, cls]) => cls.code)
    expect(new Set(codes).size).toBe(codes.length)
    for (const code of codes) expect(code).toMatch(/^SWY_ERR_[A-Z_]+$/)
  })

  it('every code has a row in docs/errors.md naming its class', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
    for (const [name, cls] of classes) {
      if (name === 'SwitchyardError') continue
      expect(doc).toMatch(new RegExp(`\\| \`${cls.code}\` \\| \`${name}\`( \\(\`@switchyard/[a-z]+\`\\))? \\|`))
    }
  })

  it('the status on each class is the one docs/errors.md gives, and instances carry it', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
    for (const [name, cls] of classes) {
      if (name === 'SwitchyardError') continue
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${cls.code}\` |`))!
      const status = row.split(' | ')[4]!
      if (cls.statusCode === undefined) expect(status, name).toBe('—')
      else expect(status.startsWith(String(cls.statusCode)), `${name}: ${status}`).toBe(true)
      expect(new cls('x').statusCode).toBe(cls.statusCode)
    }
  })

  it('instances carry their class code and match instanceof', () => {
    for (const [name, cls] of classes) {
      const err = new cls('x')
      expect(err.code).toBe(cls.code)
      expect(err).toBeInstanceOf(SwitchyardError)
      expect(err.name).toBe(name)
    }
  })
})
