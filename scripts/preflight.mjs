#!/usr/bin/env node
// The first step of `pnpm test`: the real components some tests start must be on this machine.
// Missing ones are installed with Debian's apt-get when this process may (root, apt-get on PATH);
// otherwise it stops at once with one line naming exactly what to install, instead of letting the
// tests that need them fail one by one. `.ci/run` runs the same step (it runs `pnpm test`).
//
// SWITCHYARD_PREFLIGHT=check: report what is missing, install nothing (exit 1 when something is).
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * What the suite starts or loads, the Debian package that brings it, and which tests need it: a
 * command on PATH, or a file the package installs.
 */
const COMPONENTS = [
  { command: 'openssl', pkg: 'openssl', why: 'the TLS tests make a private CA with it' },
  { command: 'redis-server', pkg: 'redis-server', why: 'the shared rate-limit store tests start it on loopback' },
  { command: 'chromium', pkg: 'chromium', why: "the status page's browser tests drive it headless" },
  { file: '/usr/share/modsecurity-crs/rules/REQUEST-901-INITIALIZATION.conf', pkg: 'modsecurity-crs', why: "the WAF's tests load the OWASP Core Rule Set from Debian's install" },
  { command: 'nginx', pkg: 'nginx', why: 'the WAF parity test runs the same requests through nginx + ModSecurity' },
  { file: '/usr/share/nginx/modules/ngx_http_modsecurity_module.so', pkg: 'libnginx-mod-http-modsecurity', why: 'the WAF parity test: ModSecurity 3 in nginx, the reference' },
]

/** The full path of `command` on PATH, or undefined. */
function which(command, path = process.env.PATH ?? '') {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, command)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return undefined
}

/** Where a component is, or undefined. nginx lives in /usr/sbin, which a non-login PATH may lack. */
function present(c) {
  if (c.file !== undefined) return existsSync(c.file)
  return which(c.command) !== undefined || which(c.command, '/usr/sbin:/sbin') !== undefined
}

function missing() {
  return COMPONENTS.filter((c) => !present(c))
}

function run(args) {
  const r = spawnSync(args[0], args.slice(1), {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  return r.status === 0
}

function stop(absent, reason) {
  const pkgs = absent.map((c) => c.pkg).join(' ')
  console.error(
    `preflight: the tests need ${absent.map((c) => c.command ?? c.pkg).join(', ')} (${reason}); ` +
      `install them and run the tests again: apt-get install -y ${pkgs}`,
  )
  process.exit(1)
}

let absent = missing()
if (absent.length === 0) process.exit(0)

const mayInstall = process.env.SWITCHYARD_PREFLIGHT !== 'check' && process.getuid?.() === 0 && which('apt-get') !== undefined
if (!mayInstall) {
  const reason = process.env.SWITCHYARD_PREFLIGHT === 'check' ? 'SWITCHYARD_PREFLIGHT=check installs nothing' : 'not root, or no apt-get here'
  stop(absent, reason)
}

console.log(`preflight: installing ${absent.map((c) => `${c.pkg} (${c.why})`).join('; ')} with apt-get`)
const started = Date.now()
if (!run(['apt-get', 'update', '-qq']) || !run(['apt-get', 'install', '-y', '-qq', ...absent.map((c) => c.pkg)])) {
  stop(missing(), 'apt-get could not install them')
}
absent = missing()
if (absent.length !== 0) stop(absent, 'apt-get ran but they are still not on PATH')
console.log(`preflight: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`)
