import type { SimReport } from './simulate.js'

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0))

/** A markdown table of runs of one scenario, side by side. */
export function formatTable(reports: readonly SimReport[]): string {
  const withRecovery = reports.some((r) => r.recoveryMs !== undefined || r.scenario.includes('recovered'))
  const withAffinity = reports.some((r) => r.affinity !== undefined)
  const head = ['strategy', 'requests', 'errors', 'mean ms', 'p50', 'p99', 'p99.9', 'imbalance', 'ejections', ...(withRecovery ? ['recovery'] : []), ...(withAffinity ? ['affinity'] : []), 'wall s']
  const rows = reports.map((r) => [
    r.strategy,
    String(r.requests),
    String(r.errors),
    ms(r.meanMs),
    ms(r.p50Ms),
    ms(r.p99Ms),
    ms(r.p999Ms),
    r.imbalance.toFixed(2),
    String(r.ejections),
    ...(withRecovery ? [r.recoveryMs === undefined ? 'never' : `${(r.recoveryMs / 1000).toFixed(1)} s`] : []),
    ...(withAffinity ? [r.affinity === undefined ? '—' : `${(r.affinity * 100).toFixed(1)}%`] : []),
    (r.wallMs / 1000).toFixed(1),
  ])
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}
