// Installs the packages as a user would: `pnpm pack` tarballs, into fresh apps outside the
// workspace, once with npm and once with pnpm. In each: ESM import and CommonJS require proxy a
// real request, the types check under strict NodeNext without skipLibCheck, and
// @arethetypeswrong/cli checks every tarball's exports map. Needs `pnpm build` first; run by .ci/run.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const work = mkdtempSync(join(tmpdir(), 'swy-pack-'))
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
const step = (what) => console.log(`pack-smoke: ${what}`)

try {
  const tarballs = join(work, 'tarballs')
  mkdirSync(tarballs)
  for (const pkg of ['strategies', 'health', 'core']) run('pnpm', ['pack', '--pack-destination', tarballs], join(root, 'packages', pkg))
  const files = readdirSync(tarballs).map((f) => join(tarballs, f))
  step(`packed ${readdirSync(tarballs).join(', ')}`)

  const attw = join(root, 'node_modules', '.bin', 'attw')
  for (const file of files) run(attw, [file, '--profile', 'node16', '--format', 'table-flipped'], root)
  step('attw: exports maps and types resolve for node16 ESM and CommonJS')

  const tsc = join(root, 'node_modules', '.bin', 'tsc')
  const smoke = `
    const up = http.createServer((req, res) => res.end('hello from ' + req.url)).listen(0, '127.0.0.1')
    await once(up, 'listening')
    const lb = createBalancer({ upstreams: ['http://127.0.0.1:' + up.address().port], strategy: roundRobin() })
    const proxy = http.createServer(lb.handler).listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    const res = await fetch('http://127.0.0.1:' + proxy.address().port + '/x')
    const text = await res.text()
    if (text !== 'hello from /x') throw new Error('unexpected answer: ' + text)
    await lb.close(); proxy.close(); up.close()
    console.log('ok')`
  for (const manager of ['npm', 'pnpm']) {
    const app = join(work, `app-${manager}`)
    mkdirSync(app)
    // pnpm resolves a tarball's own @switchyard dependencies from the registry: point them at the tarballs.
    const overrides = Object.fromEntries(files.map((f) => [`@switchyard/${f.match(/switchyard-(\w+)-/)[1]}`, `file:${f}`]))
    const manifest = { name: `smoke-${manager}`, private: true, type: 'module', ...(manager === 'pnpm' ? { pnpm: { overrides } } : {}) }
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest))
    const deps = [...files, '@types/node@20', 'typescript@5.9']
    if (manager === 'npm') run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...deps], app)
    else run('pnpm', ['add', '--config.confirmModulesPurge=false', ...deps], app)
    writeFileSync(
      join(app, 'esm.mjs'),
      `import http from 'node:http'\nimport { once } from 'node:events'\nimport { createBalancer } from '@switchyard/core'\nimport { roundRobin } from '@switchyard/strategies'\n${smoke}\n`,
    )
    writeFileSync(
      join(app, 'cjs.cjs'),
      `const http = require('node:http')\nconst { once } = require('node:events')\nconst { createBalancer } = require('@switchyard/core')\nconst { roundRobin } = require('@switchyard/strategies')\n;(async () => {${smoke}\n})().catch((e) => { console.error(e); process.exit(1) })\n`,
    )
    for (const file of ['esm.mjs', 'cjs.cjs']) {
      const out = run(process.execPath, [file], app).trim()
      if (out !== 'ok') throw new Error(`${manager} ${file}: ${out}`)
    }
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        // A Node app's settings: @types/node 20 (the floor) and no DOM lib, whose fetch types have no dispatcher.
        compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2022'], skipLibCheck: false, noEmit: true, types: ['node'] },
        files: ['index.ts'],
      }),
    )
    writeFileSync(
      join(app, 'index.ts'),
      `import { createBalancer, type BalancerOptions, type UpstreamSnapshot } from '@switchyard/core'
import { activeHealthCheck } from '@switchyard/health'
import { peakEwma } from '@switchyard/strategies'
const options: BalancerOptions = {
  upstreams: [{ url: 'https://127.0.0.1:5000', tls: { servername: 'api.internal' } }],
  strategy: peakEwma(),
  breaker: { errorThresholdPercentage: 50, resetTimeout: 10_000 },
  health: activeHealthCheck({ path: '/healthz' }),
  timeouts: { clientBody: 30_000, send: 30_000 },
}
const lb = createBalancer(options)
const first: UpstreamSnapshot | undefined = lb.upstreams[0]
// @ts-expect-error breaker options are typed: a typo does not compile
createBalancer({ upstreams: ['http://127.0.0.1:5000'], breaker: { resetTimout: 1 } })
void first
// Node's global fetch takes the balancer's dispatcher as the README shows it, with no cast.
export const call = async (): Promise<number> => (await fetch('http://users/profile/7', { dispatcher: lb.dispatcher })).status
void lb.close()
`,
    )
    run(tsc, ['-p', '.'], app)
    step(`${manager}: installed the tarballs; ESM and CommonJS proxy a request; types check without skipLibCheck`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
