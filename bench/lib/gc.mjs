// Garbage collections from `node --trace-gc` output: how many, how long the pauses were, and how
// much they freed (what the process allocated and dropped, near enough, over many collections).
// A line reads, e.g.:
//   [123:0x5e0c000]     3050 ms: Scavenge 9.8 (12.5) -> 8.9 (13.3) MB, 0.61 / 0.00 ms  (average mu = ...) allocation failure;
const LINE = /: (Scavenge|Minor Mark-Compact|Mark-Compact|Mark-sweep)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/

/** A full GC's incremental marking done on the main thread before its pause: `(+ 3.1 ms in 97 steps since start of marking, …)`. */
const STEPS = /\(\+ ([\d.]+) ms in \d+ steps/

/** When a line's collection happened: ms since the process's V8 started (`[123:0x5e0c000]     3050 ms: …`). */
const AT = /^\[[^\]]*\]\s+(\d+) ms: /

/**
 * `{ scavenges, fullGcs, pauseMs, stepsMs, freedMb }` of the trace lines in `text`, those from
 * `window.fromMs` to `window.toMs` of the process's own time when given: `pauseMs` the
 * collections' pauses, `stepsMs` the incremental marking steps the main thread ran before full
 * ones (both main-thread time; concurrent marking on V8's helper threads is in neither).
 */
export function gcStats(text, window) {
  const out = { scavenges: 0, fullGcs: 0, pauseMs: 0, stepsMs: 0, freedMb: 0 }
  for (const line of text.split('\n')) {
    const m = LINE.exec(line)
    if (m === null) continue
    if (window !== undefined) {
      const at = Number(AT.exec(line)?.[1])
      if (!(at >= window.fromMs && at <= window.toMs)) continue
    }
    if (m[1] === 'Scavenge' || m[1] === 'Minor Mark-Compact') out.scavenges++
    else out.fullGcs++
    out.pauseMs += Number(m[4])
    const steps = STEPS.exec(line)
    if (steps !== null) out.stepsMs += Number(steps[1])
    out.freedMb += Math.max(0, Number(m[2]) - Number(m[3]))
  }
  return out
}

/**
 * The collections of a process started with `--trace-gc` (by `pinned`) between two
 * `performance.now()` readings of ours, read once it has stopped. V8 writes its trace lines
 * through C's stdio, which holds them in a buffer while stdout is a pipe: read before the process
 * exits (and flushes), the log misses the last ones and holds some from before. So the process's
 * output is read to its end, and each line is placed by its own time stamp (V8's start lags the
 * spawn by a few tens of ms: the window's edges move by that much).
 */
export async function gcOfWindow(child, from, to) {
  if (child.stdout.readable) await Promise.race([new Promise((r) => child.stdout.once('close', r)), new Promise((r) => setTimeout(r, 1_000))])
  return gcStats(child.log(), { fromMs: from - child.startedAt, toMs: to - child.startedAt })
}
