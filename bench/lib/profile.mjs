// Where a proxy's CPU goes, from a V8 CPU profile (`node --cpu-prof`): self time by where the code
// lives, in µs per request. Buckets are by script URL, so they say whose code ran, not why.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export const BUCKETS = [
  ['switchyard', 'Switchyard (packages/*, the gateway)'],
  ['undici', 'undici (the client to the upstreams)'],
  ['http', "Node's HTTP server (node:_http_*, the parser glue)"],
  ['streams', 'Node streams (node:internal/streams)'],
  ['net', 'sockets (node:net, stream_base_commons)'],
  ['node', 'other Node internals (timers, events, buffers, …)'],
  ['deps', 'other dependencies (p-queue, opossum, …)'],
  ['native', 'native calls (writev, parser, crypto, … as V8 sees them)'],
  ['gc', 'garbage collection'],
  ['program', 'V8 and libuv outside JavaScript ("(program)")'],
]

function bucketOf(frame) {
  const { url, functionName } = frame
  if (functionName === '(garbage collector)') return 'gc'
  if (functionName === '(program)') return 'program'
  if (functionName === '(idle)' || functionName === '(root)') return undefined
  if (url === '') return 'native'
  if (url.includes('/undici/')) return 'undici'
  if (url.includes('/packages/') || url.includes('/examples/gateway/') || url.includes('@switchyard')) return 'switchyard'
  if (/node:_http_|node:internal\/http|node:http/.test(url)) return 'http'
  if (url.includes('node:internal/streams') || url === 'node:stream') return 'streams'
  if (url === 'node:net' || url.includes('stream_base_commons')) return 'net'
  if (url.startsWith('node:')) return 'node'
  return url.includes('/node_modules/') ? 'deps' : 'node'
}

/** Self time in µs per bucket from the one .cpuprofile in `dir`. */
export function profileBuckets(dir) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) return undefined
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'))
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const out = Object.fromEntries(BUCKETS.map(([k]) => [k, 0]))
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    const bucket = node === undefined ? undefined : bucketOf(node.callFrame)
    if (bucket !== undefined) out[bucket] += profile.timeDeltas[i] ?? 0
  }
  return out
}
