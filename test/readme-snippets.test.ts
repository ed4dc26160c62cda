import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Balancer } from '@switchyard/core'
import ts from 'typescript'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeUpstream, fakeUpstream } from '@switchyard/testing'

/**
 * Every ```ts block of the READMEs runs as written and type-checks (strict, NodeNext, with the
 * README's imports), against upstreams on the ports the READMEs name (5000-5002). A block that
 * listens gets a request through it; servers, SIGTERM handlers and balancers it leaves are closed.
 */
const root = fileURLToPath(new URL('..', import.meta.url))
const READMES = ['README.md', 'packages/core/README.md', 'packages/health/README.md', 'packages/strategies/README.md', 'packages/guard/README.md', 'packages/sim/README.md', 'packages/testing/README.md', 'packages/fastify/README.md', 'packages/observe/README.md', 'packages/waf/README.md']
const dir = join(root, 'test', '.snippets')

interface Snippet {
  name: string
  file: string
  code: string
}

const snippets: Snippet[] = []
for (const readme of READMES) {
  const text = readFileSync(join(root, readme), 'utf8')
  const re = /^```ts\n([\s\S]*?)^```$/gm
  let n = 0
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    n++
    const name = `${readme.replace(/\/?README\.md$/, '').replace(/\//g, '-') || 'root'}-${n}`
    snippets.push({ name: `${readme} block ${n}`, file: join(dir, `${name}.ts`), code: m[1]! })
  }
}

const upstreams: FakeUpstream[] = []
let redis: ChildProcess | undefined
/** Why redis-server could not be started, for the blocks that need it. */
let redisError: Error | undefined

/** Whether something accepts connections on a loopback port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

beforeAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  for (const s of snippets) {
    // Exposes the block's balancer (every README names it `lb`) so the test can close it.
    // ... and its Redis client (the guard README names it `client`), so the test can close it.
    let code = s.code
    if (/^const lb = /m.test(code)) code += '\nexport const __balancer = lb\n'
    if (/^const client = createClient\(/m.test(code)) code += '\nexport const __redis = client\n'
    writeFileSync(s.file, code)
  }
  // The guard README's Redis block connects to 6379: start a server there unless one answers.
  if (snippets.some((s) => s.code.includes('redis://127.0.0.1:6379')) && !(await answers(6379))) {
    redis = spawn('redis-server', ['--port', '6379', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    redis.once('error', (err) => {
      redisError = err
    })
    for (let i = 0; i < 100 && redisError === undefined && !(await answers(6379)); i++) await new Promise((r) => setTimeout(r, 100))
  }
  for (const port of [5000, 5001, 5002]) {
    upstreams.push(await fakeUpstream({ name: `backend-${port}`, port }))
  }
})

afterAll(async () => {
  redis?.kill('SIGKILL')
  await Promise.all(upstreams.map((u) => u.close()))
  rmSync(dir, { recursive: true, force: true })
})

describe('README code blocks', () => {
  it('found the blocks', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(7)
  })

  it('every block type-checks (strict, NodeNext)', () => {
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts'], // a Node app: @types/node's globals, no DOM lib (whose fetch types have no dispatcher)
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      skipLibCheck: true,
      baseUrl: root,
      paths: { '@switchyard/*': ['packages/*/src/index.ts'] },
    }
    const program = ts.createProgram(
      snippets.map((s) => s.file),
      options,
    )
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file?.fileName.includes('.snippets'))
      .map((d) => `${d.file!.fileName.split('/').pop()}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
    expect(problems).toEqual([])
  }, 60_000)

  for (const snippet of snippets) {
    it(`${snippet.name} runs as written`, async () => {
      if (redisError !== undefined && snippet.code.includes('redis://127.0.0.1:6379')) {
        throw new Error(`this block needs redis-server, which could not be started (${redisError.message}): install Debian's redis-server (pnpm test's preflight does)`)
      }
      const servers: http.Server[] = []
      const listen = http.Server.prototype.listen
      http.Server.prototype.listen = function (this: http.Server, ...args: unknown[]) {
        servers.push(this)
        return (listen as (...a: unknown[]) => http.Server).apply(this, args)
      } as typeof listen
      const sigterm = new Set(process.listeners('SIGTERM'))
      let balancer: Balancer | undefined
      let redisClient: { destroy(): void } | undefined
      try {
        const mod = (await import(snippet.file)) as { __balancer?: Balancer; __redis?: { destroy(): void } }
        balancer = mod.__balancer
        redisClient = mod.__redis
        for (const server of servers) {
          if (!server.listening) continue // the block closed it itself
          const { port } = server.address() as { port: number }
          const res = await request(`http://127.0.0.1:${port}/api/users`)
          expect(res.statusCode).toBe(200)
          expect(((await res.body.json()) as { name: string }).name).toMatch(/^backend-500[0-2]$/)
        }
      } finally {
        http.Server.prototype.listen = listen
        for (const handler of process.listeners('SIGTERM')) {
          if (sigterm.has(handler)) continue
          process.off('SIGTERM', handler)
          ;(handler as () => void)() // the README's own shutdown
        }
        for (const server of servers) {
          server.closeAllConnections()
          server.close()
        }
        await balancer?.close({ timeout: 1_000 })
        redisClient?.destroy()
      }
    })
  }
})
