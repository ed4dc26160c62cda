// Garbage collections from `node --trace-gc` output: how many, how long the pauses were, and how
// much they freed (what the process allocated and dropped, near enough, over many collections).
// A line reads, e.g.:
//   [123:0x5e0c000]     3050 ms: Scavenge 9.8 (12.5) -> 8.9 (13.3) MB, 0.61 / 0.00 ms  (average mu = ...) allocation failure;
const LINE = /: (Scavenge|Minor Mark-Compact|Mark-Compact|Mark-sweep)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/

/** `{ scavenges, fullGcs, pauseMs, freedMb }` of the trace lines in `text`. */
export function gcStats(text) {
  const out = { scavenges: 0, fullGcs: 0, pauseMs: 0, freedMb: 0 }
  for (const line of text.split('\n')) {
    const m = LINE.exec(line)
    if (m === null) continue
    if (m[1] === 'Scavenge' || m[1] === 'Minor Mark-Compact') out.scavenges++
    else out.fullGcs++
    out.pauseMs += Number(m[4])
    out.freedMb += Math.max(0, Number(m[2]) - Number(m[3]))
  }
  return out
}
