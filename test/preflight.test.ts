import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'

/**
 * `scripts/preflight.mjs`, the first step of `pnpm test`, run with the components hidden from it:
 * PATH is a scratch folder holding only what each case puts there (stub commands, and a stub
 * apt-get that records how it was called and "installs" a package by adding its command).
 */
const script = fileURLToPath(new URL('../scripts/preflight.mjs', import.meta.url))
const COMMANDS = ['openssl', 'redis-server', 'chromium']
const isRoot = process.getuid?.() === 0
let dir = ''

afterEach(() => rmSync(dir, { recursive: true, force: true }))

function scratch(): string {
  dir = mkdtempSync(join(tmpdir(), 'swy-preflight-'))
  return dir
}

function stub(name: string, body = 'exit 0'): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`)
  chmodSync(join(dir, name), 0o755)
}

/** A stub apt-get: logs its arguments; `install` adds each package's command (the packages are named as their commands). */
function stubAptGet(): string {
  const log = join(dir, 'apt.log')
  stub(
    'apt-get',
    `echo "$*" >> ${log}\nif [ "$1" = install ]; then for p in "$@"; do case "$p" in -*|install) ;; *) printf '#!/bin/sh\\nexit 0\\n' > ${dir}/$p; /bin/chmod 755 ${dir}/$p ;; esac; done; fi`,
  )
  return log
}

function preflight(env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [script], { env: { PATH: dir, ...env }, encoding: 'utf8' })
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() }
}

describe('the test preflight (scripts/preflight.mjs)', () => {
  it('says nothing and passes when every component is there', () => {
    scratch()
    for (const c of COMMANDS) stub(c)
    const log = stubAptGet()
    expect(preflight()).toEqual({ status: 0, stdout: '', stderr: '' })
    expect(() => readFileSync(log)).toThrow() // apt-get was never called
  })

  it('stops at once with one line naming what to install when it cannot install (no apt-get)', () => {
    scratch()
    stub('openssl')
    const r = preflight()
    expect(r.status).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.split('\n')).toHaveLength(1)
    expect(r.stderr).toContain('the tests need redis-server, chromium')
    expect(r.stderr).toContain('apt-get install -y redis-server chromium')
    expect(r.stderr).not.toContain('openssl')
  })

  it('with SWITCHYARD_PREFLIGHT=check, reports and installs nothing even where it could', () => {
    scratch()
    const log = stubAptGet()
    const r = preflight({ SWITCHYARD_PREFLIGHT: 'check' })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('apt-get install -y openssl redis-server chromium')
    expect(() => readFileSync(log)).toThrow()
  })

  it('with apt-get: as root, installs exactly the missing packages, then passes; as anyone else, says it cannot', () => {
    scratch()
    stub('redis-server')
    const log = stubAptGet()
    const r = preflight()
    if (!isRoot) {
      expect(r.status).toBe(1)
      expect(r.stderr).toContain('not root')
      expect(r.stderr).toContain('apt-get install -y openssl chromium')
      return
    }
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^preflight: installing openssl \(.+\); chromium \(.+\) with apt-get\npreflight: installed in \d+ s$/)
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['update -qq', 'install -y -qq openssl chromium'])
  })

  it('an apt-get that fails ends it with the line naming what is still missing', () => {
    scratch()
    stub('apt-get', 'exit 100')
    const r = preflight()
    expect(r.status).toBe(1)
    expect(r.stderr).toContain(isRoot ? 'apt-get could not install them' : 'not root')
    expect(r.stderr).toContain('apt-get install -y openssl redis-server chromium')
  })
})
