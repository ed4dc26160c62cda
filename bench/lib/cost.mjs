// The cost A/Bs of issue 28's "watching costs nothing": what the gateway's defaults and each
// optional feature add to the CPU a request takes, against the library alone, measured so that a
// 5% difference has a chance to be seen on a shared 2-core virtual machine. `costAB` compares
// whole processes (the gateway in its configurations); `pairAB`, at the end, a feature beside the
// library in one process.
//
// Two things move the CPU per request here by ±10-20%: the machine's speed drifts over seconds and
// minutes, and two processes with the same configuration differ for as long as they live (where V8
// placed things, which code it optimized first and how). So the A/B runs in batches. A batch starts
// one process per configuration, all pinned to the proxy core and idle but for the one under load,
// warms each, then runs `rounds` rounds in which every process takes `seconds` of load, in an order
// that reverses every round; then it stops them. A configuration's result in a batch is its mean
// CPU per request over its rounds, over the base's in the same rounds (slices seconds apart, so
// the drift mostly cancels); its result overall is the median over the batches (many processes, so one
// process's luck does not decide it).
//
// Every process is loaded as often as every other. Tried and dropped: the base between every two
// others (base, A, base, B, …), so each slice is compared with the base a second away. It biased
// the result: the control, a second library process, came out 4-60% dearer than the base in each
// of five batches, since a process loaded every other second runs warmer than one loaded every
// thirteenth.
import { load } from './load.mjs'
import { cpuMicros, family } from './proc.mjs'
import { freePort, stop, waitForHttp } from './spawn.mjs'

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * One slice of load on `port`: the CPU µs per request the processes `pids` spent on it (from /proc),
 * or NaN when the load saw errors.
 */
async function cpuPerRequest(pids, port, seconds, { connections, loadCore, path }) {
  const before = cpuMicros(pids)
  const res = await load({ url: `http://127.0.0.1:${port}${path}`, connections, seconds, core: loadCore })
  return res.errors > 0 ? Number.NaN : (cpuMicros(pids) - before) / Math.max(1, res.requests)
}

/**
 * `configs`: `[{ name, start(port) → child }]`. Returns `{ perBatch, batches, rounds, seconds }`:
 * `perBatch[b][name]` is the configuration's CPU µs per request in batch b (the mean over its
 * rounds). {@link costRatio} and {@link costMedian} read it.
 */
export async function costAB({ configs, batches = 8, rounds = 3, seconds = 1, warmupSeconds = 3, connections = 64, loadCore, path = '/', log = () => {} }) {
  const perBatch = []
  for (let b = 0; b < batches; b++) {
    const procs = []
    try {
      for (const config of configs) {
        const port = await freePort()
        const child = config.start(port)
        const p = { config: config.name, port, child, pids: [child.pid] }
        procs.push(p) // before the wait, so the finally stops it if it never answers
        await waitForHttp(port, child)
        p.pids = family(child.pid)
      }
      const slice = (p, s) => cpuPerRequest(p.pids, p.port, s, { connections, loadCore, path })
      for (const p of procs) await slice(p, warmupSeconds)
      const sums = Object.fromEntries(configs.map((c) => [c.name, 0]))
      for (let r = 0; r < rounds; r++) {
        // Reversed every round, and the first process of the batch alternates between batches.
        const order = (r + b) % 2 === 0 ? procs : [...procs].reverse()
        for (const p of order) sums[p.config] += (await slice(p, seconds)) / rounds
      }
      perBatch.push(sums)
      log(`cost A/B batch ${b + 1}/${batches}: ${configs.map((c) => `${c.name} ${sums[c.name].toFixed(1)}`).join(', ')} µs/req`)
    } finally {
      for (const p of procs) await stop(p.child)
    }
  }
  return { perBatch, batches, rounds, seconds }
}

/** The median over batches of a's CPU per request over b's in the same batch. */
export const costRatio = (cost, a, b) => median(costRatios(cost, a, b))

/** The median over batches of a configuration's CPU µs per request. */
export const costMedian = (cost, a) => median(cost.perBatch.map((batch) => batch[a]))

/** Every batch's ratio of a to b. */
export const costRatios = (cost, a, b) => cost.perBatch.map((batch) => batch[a] / batch[b])

/**
 * The one-process A/B of a feature: `start(portA, portB)` starts one process serving the base on
 * portA and the variant on portB. Each of `processes` such processes is warmed, then loaded in
 * `rounds` pairs of slices (base then variant, the order reversing every round); each pair's
 * ratio is the variant's CPU per request over the base's (the process's own CPU, from /proc, in
 * each slice). Both halves share the process, so what makes two processes differ cannot decide it;
 * the drift between two neighbouring slices remains, and the median over every pair of every
 * process evens it out. Returns `{ ratio, ratios, perProcess }`.
 */
export async function pairAB({ start, processes = 2, rounds = 12, seconds = 1, warmupSeconds = 3, connections = 64, loadCore, path = '/', log = () => {} }) {
  const ratios = []
  const perProcess = []
  for (let n = 0; n < processes; n++) {
    const [portA, portB] = [await freePort(), await freePort()]
    const child = start(portA, portB)
    try {
      await waitForHttp(portA, child)
      await waitForHttp(portB, child)
      const pids = family(child.pid)
      const slice = (port, s) => cpuPerRequest(pids, port, s, { connections, loadCore, path })
      await slice(portA, warmupSeconds)
      await slice(portB, warmupSeconds)
      const mine = []
      for (let r = 0; r < rounds; r++) {
        const [first, second] = r % 2 === 0 ? [portA, portB] : [portB, portA]
        const a = await slice(first, seconds)
        const b = await slice(second, seconds)
        mine.push(first === portA ? b / a : a / b)
      }
      ratios.push(...mine)
      perProcess.push(median(mine))
      log(`one-process A/B, process ${n + 1}/${processes}: median ${median(mine).toFixed(3)} (${mine.map((x) => x.toFixed(2)).join(' ')})`)
    } finally {
      await stop(child)
    }
  }
  return { ratio: median(ratios), ratios, perProcess }
}
