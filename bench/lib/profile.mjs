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

/** The one .cpuprofile V8 wrote into `dir`, parsed; undefined when there is none. */
export function readProfile(dir) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  return file === undefined ? undefined : JSON.parse(readFileSync(join(dir, file), 'utf8'))
}

/**
 * The profile's nodes by id, each node's parent, and the first sample taken while serving a
 * request (a stack through Node's `parserOnIncoming`): what comes before is start-up (loading
 * modules, compiling), which is not a cost per request and is left out.
 */
function index(profile, startAt = /^parserOnIncoming /) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  let from = 0
  search: for (; from < profile.samples.length; from++) {
    for (let id = profile.samples[from]; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame
      if (frame !== undefined && startAt.test(`${frame.functionName} ${frame.url}`)) break search
    }
  }
  return { byId, parent, from: from === profile.samples.length ? 0 : from }
}

/** Self time in µs per bucket, from the first request on. */
export function profileBuckets(profile) {
  const { byId, from } = index(profile)
  const out = Object.fromEntries(BUCKETS.map(([k]) => [k, 0]))
  for (let i = from; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    const bucket = node === undefined ? undefined : bucketOf(node.callFrame)
    if (bucket !== undefined) out[bucket] += profile.timeDeltas[i] ?? 0
  }
  return out
}

/**
 * The code of each optional feature, as `function-name url` matches it. A sample belongs to a
 * feature when, walking from the running function towards the root, the first frame that is
 * somebody's code (a file outside Node itself) is the feature's: so Node's own work on the
 * feature's behalf (setHeader for the rate limit's headers, the JSON and writes of the access
 * log) counts for the feature, and the proxy the guards call next does not.
 */
export const FEATURES = {
  guards: /packages\/guard\/|\/ipaddr\.js\/|^(clientAddress|forwardedClient|stripMapped|matches|match|parseAddress) \S*packages\/strategies\/|^(setHeader|appendHeader) node:_http_outgoing/,
  transforms: /^(apply|invert|headerTable|headerCallback) \S*packages\/core\//,
  observed: /packages\/observe\/|\/prom-client\/|\/pino\/|\/sonic-boom\/|^(traced|#passedOver|#ruleRefusing) \S*packages\/core\//,
}

/**
 * µs of `profile` spent in the code `pattern` matches (see {@link FEATURES}), and in all (idle
 * excluded), from the first sample `startAt` matches (default: the first request a server took).
 */
export function featureTime(profile, pattern, startAt) {
  const { byId, parent, from } = index(profile, startAt)
  let feature = 0
  let total = 0
  for (let i = from; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    let id = profile.samples[i]
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue
    total += dt
    for (; id !== undefined; id = parent.get(id)) {
      const { functionName, url } = byId.get(id).callFrame
      if (pattern.test(`${functionName} ${url}`)) {
        feature += dt
        break
      }
      if (url !== '' && !url.startsWith('node:')) break // somebody else's code
    }
  }
  return { feature, total }
}
