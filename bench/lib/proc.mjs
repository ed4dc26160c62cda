// CPU time and peak RSS of a process and its descendants (cluster workers), from /proc.
import { readdirSync, readFileSync } from 'node:fs'

const TICK_US = 1e6 / 100 // USER_HZ is 100 on Linux

function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return -1
  }
}

/** The pid and every descendant's pid. */
export function family(pid) {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)
  const out = [pid]
  for (let i = 0; i < out.length; i++) for (const p of all) if (parentOf(p) === out[i]) out.push(p)
  return out
}

/** User + system CPU time of the processes, µs. */
export function cpuMicros(pids) {
  let ticks = 0
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(f[11]) + Number(f[12]) // utime, stime
    } catch {}
  }
  return ticks * TICK_US
}

/** Sum of the processes' peak resident set (VmHWM), MB. */
export function peakRssMb(pids) {
  let kb = 0
  for (const pid of pids) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m) kb += Number(m[1])
    } catch {}
  }
  return kb / 1024
}
