import type { Gateway } from './index.js'

/** What {@link handleSignals} listens on and how it ends the process (the real ones by default). */
export interface SignalHost {
  on(signal: 'SIGHUP' | 'SIGINT' | 'SIGTERM', listener: () => void): unknown
  once(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown
}

/**
 * The gateway's signals, as nginx's: `SIGHUP` reloads the config (upstreams, strategy, balancer
 * options, guards, observers; no request dropped) and the TLS certificate; `SIGTERM` and `SIGINT`
 * drain: the server stops accepting, requests in flight finish, then `exit(0)` (`exit(1)` if
 * closing failed).
 */
export function handleSignals(gateway: Gateway, exit: (code: number) => void = process.exit, host: SignalHost = process): void {
  const stop = () => {
    gateway.close().then(
      () => exit(0),
      () => exit(1),
    )
  }
  host.once('SIGINT', stop)
  host.once('SIGTERM', stop)
  host.on('SIGHUP', () => {
    try {
      gateway.reloadTls()
    } catch (err) {
      console.error(`switchyard gateway: TLS reload failed, keeping the old certificate: ${(err as Error).message}`)
    }
    void gateway.reloadConfig().then((r) => {
      if (r.ok) console.log('switchyard gateway: config reloaded')
    })
  })
}
