// Drives load with wrk when present, autocannon otherwise, pinned to the load core.
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function hasCommand(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export const tool = process.env.BENCH_LOAD ?? (hasCommand('wrk') ? 'wrk' : 'autocannon')

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    child.on('error', reject)
    child.on('close', () => resolve(out))
  })
}

function ms(text) {
  const m = /([\d.]+)(us|ms|s)\b/.exec(text)
  if (!m) return Number.NaN
  const v = Number(m[1])
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v
}

let luaUpload
function uploadScript(bytes) {
  luaUpload ??= join(tmpdir(), `switchyard-upload-${bytes}.lua`)
  writeFileSync(
    luaUpload,
    `wrk.method = "POST"\nwrk.body = string.rep("x", ${bytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`,
  )
  return luaUpload
}

const requestScripts = new Map()
/** A wrk script whose `request()` is the given Lua body (a request that varies, e.g. per counter). */
function requestScript(lua) {
  let file = requestScripts.get(lua)
  if (file === undefined) {
    file = join(tmpdir(), `switchyard-requests-${requestScripts.size}-${process.pid}.lua`)
    writeFileSync(file, lua)
    requestScripts.set(lua, file)
  }
  return file
}

/**
 * Runs one load: `{ url, connections, seconds, uploadBytes?, requestLua?, core, threads? }` (`requestLua`: a wrk script making each request) (`core` is a core or a
 * taskset list such as `2,3`; `threads` is wrk's `-t`, ignored by autocannon) → `{ rps, p50, p99, requests,
 * errors }` (latencies in ms).
 */
export async function load({ url, connections, seconds, uploadBytes, core, threads = 1, requestLua }) {
  const pin = core === undefined ? [] : ['taskset', '-c', String(core)]
  if (requestLua !== undefined && tool !== 'wrk') throw new Error('varied requests (the WAF rows) need wrk: apt-get install -y wrk')
  if (tool === 'wrk') {
    const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s']
    if (uploadBytes) args.push('-s', uploadScript(uploadBytes))
    if (requestLua !== undefined) args.push('-s', requestScript(requestLua))
    args.push(url)
    const out = pin.length ? await run(pin[0], [...pin.slice(1), 'wrk', ...args]) : await run('wrk', args)
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
    const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0)
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
      p50: ms(/ 50%\s+(\S+)/.exec(out)?.[1] ?? ''),
      p99: ms(/ 99%\s+(\S+)/.exec(out)?.[1] ?? ''),
      requests,
      errors,
    }
  }
  const opts = JSON.stringify({ url, connections, duration: seconds, uploadBytes })
  const script = new URL('./autocannon-run.mjs', import.meta.url).pathname
  const out = await run(pin.length ? pin[0] : process.execPath, [
    ...(pin.length ? [...pin.slice(1), process.execPath] : []),
    script,
    opts,
  ])
  return JSON.parse(out.trim().split('\n').at(-1))
}
