import cluster from 'node:cluster'
import { loadConfig, startDemoBackends, startGateway } from './index.js'
import { WorkerLink } from './cluster-link.js'
import { ClusterPrimary } from './cluster-primary.js'
import { handleSignals } from './signals.js'

/**
 * `pnpm start`: the seed's nginx in front of two Flask apps, as one Node process. With WORKERS > 1
 * the primary starts the demo backends (if any) and forks workers that share the port.
 */
async function main(): Promise<void> {
  const config = loadConfig()
  if (config.workers > 1 && cluster.isPrimary) {
    let demo: string[] = []
    if (config.upstreams.length === 0) {
      demo = (await startDemoBackends()).urls
      console.log(`demo backends: ${demo.join(', ')}`)
    }
    const primary = new ClusterPrimary(config, demo)
    primary.start()
    cluster.once('listening', (_worker, address) => {
      console.log(`switchyard gateway: ${config.workers} workers on http://localhost:${address.port}`)
    })
    // SIGHUP reaches every worker, and each reloads its config (as nginx's master tells its workers).
    process.on('SIGHUP', () => void primary.reload())
    const stop = () => primary.stop()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    return
  }
  const link = WorkerLink.forWorker(cluster.isWorker)
  const demoUpstreams = process.env.SWITCHYARD_DEMO_UPSTREAMS?.split(',').filter((u) => u !== '')
  const gateway = await startGateway(config, { link, demoUpstreams })
  if (cluster.isPrimary) {
    const ups = gateway.lb.upstreams.map((u) => u.url).join(', ')
    const { count, fallback } = gateway.listeners
    console.log(`switchyard gateway listening on ${gateway.url} (${count} socket${count === 1 ? '' : 's'}${fallback === undefined ? '' : `: ${fallback}`})`)
    console.log(`  upstreams: ${ups}  strategy: ${gateway.lb.stats().strategy}`)
    if (gateway.guards.length !== 0) console.log(`  guards: ${gateway.guards.join(' → ')}`)
    if (gateway.status !== undefined) console.log(`  status page: ${gateway.url}${gateway.status.path}`)
    if (gateway.metricsPath !== undefined) console.log(`  metrics: ${gateway.url}${gateway.metricsPath}`)
    if (gateway.redirect !== undefined) console.log(`  http://localhost:${gateway.redirect.port} redirects to HTTPS`)
    console.log(`  try: curl ${config.tls === undefined ? '' : '-k '}${gateway.url}   (run it twice: the backend alternates)`)
    if (gateway.guards.includes('requestFilter')) {
      console.log(`       curl ${config.tls === undefined ? '' : '-k '}'${gateway.url}/?id=1%27%20OR%201=1'   (the request filter answers 403)`)
    }
  }
  handleSignals(gateway)
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string }
  console.error(`switchyard gateway: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`)
  process.exit(1)
})
