import type { AddressInfo, Server } from 'node:net'
import { InvalidOptionError } from '@switchyard/strategies'

/**
 * Listening sockets `'auto'` opens where the runtime has `reusePort`. libuv takes one connection
 * from a listening socket per turn of the event loop, so a busy process takes a storm of new
 * connections in slowly; with several sockets on the port (the kernel spreads connections over
 * them) each gets its turn. Measured on Node 24, the gateway saturated at 256 new connections
 * asking for 64 KiB (bench/RESULTS.md, "Connection storms"): p99 1.6 s with 1 socket, 400 ms with
 * 4, 170 ms with 16, 110 ms with 64, and no better with 256 or 1 024 (the rest is queueing behind
 * the process's own work). A socket costs a file descriptor and nothing per request.
 */
export const AUTO_LISTENERS = 64

/** Options of {@link listenShared}. */
export interface ListenOptions {
  /** The port; 0 picks a free one (every socket then shares the one picked). */
  port: number
  /** The address. @default all interfaces, as `server.listen(port)` */
  host?: string
  /**
   * How many sockets listen on the port, each served by its own server made by `make`: a number,
   * or `'auto'` ({@link AUTO_LISTENERS} where `reusePort` is available, else 1).
   * @default 'auto'
   */
  listeners?: number | 'auto'
}

/** What {@link listenShared} opened. */
export interface Listening<S extends Server> {
  /** Every server, the first one first (on a runtime without `reusePort`, just that one). */
  readonly servers: readonly S[]
  /** The port they share. */
  readonly port: number
  /** Why fewer sockets were opened than asked for (an older Node, a platform without `SO_REUSEPORT`); undefined when all were. */
  readonly fallback: string | undefined
  /** Closes every server (as `server.close()`: connections in flight finish). */
  close(): Promise<void>
}

/**
 * Whether this runtime can open several listening sockets on one port: `reusePort` came in Node
 * 22.12 (and 23.1), and works where the OS has `SO_REUSEPORT` with load balancing (Linux 3.9+,
 * FreeBSD 12+, DragonFly BSD). Returns the reason it cannot, or undefined.
 */
export function reusePortUnavailable(version: string = process.versions.node, platform: string = process.platform): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number)
  if (major < 22 || (major === 22 && minor < 12) || (major === 23 && minor < 1)) return `reusePort needs Node 22.12 or later (this is Node ${version})`
  if (platform !== 'linux' && platform !== 'freebsd') return `reusePort balances connections only on Linux and FreeBSD (this is ${platform})`
  return undefined
}

/**
 * Listens on one port with several sockets (`SO_REUSEPORT`), each its own server from `make`,
 * all answering with the same handlers: the kernel spreads new connections over them, so a burst
 * of connections is taken in as fast as nginx does. Where the runtime lacks `reusePort` it opens
 * one socket and says why in `fallback`.
 *
 * @example
 * const lb = createBalancer({ upstreams })
 * const { servers } = await listenShared(() => http.createServer(lb.handler).on('upgrade', lb.upgrade), { port: 8080 })
 * @throws {InvalidOptionError} SWY_ERR_INVALID_OPTION for a `listeners` that is not a positive integer or `'auto'`
 */
export async function listenShared<S extends Server>(make: () => S, options: ListenOptions): Promise<Listening<S>> {
  const asked = options.listeners ?? 'auto'
  if (asked !== 'auto' && (!Number.isInteger(asked) || asked < 1 || asked > 1024)) {
    throw new InvalidOptionError(`listeners must be 'auto' or an integer from 1 to 1024, got ${JSON.stringify(asked)}`, { field: 'listeners' })
  }
  const unavailable = reusePortUnavailable()
  const count = unavailable !== undefined ? 1 : asked === 'auto' ? AUTO_LISTENERS : asked
  const fallback = unavailable !== undefined && asked !== 1 ? unavailable : undefined
  const servers: S[] = []
  const close = () => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => {})
  try {
    let port = options.port
    for (let i = 0; i < count; i++) {
      const server = make()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        const failed = (err: Error) => {
          server.off('listening', listening)
          reject(err)
        }
        const listening = () => {
          server.off('error', failed)
          resolve()
        }
        server.once('error', failed).once('listening', listening)
        // `reusePort` is in Node 22.12's ListenOptions; the types here are Node 20's.
        server.listen(count === 1 ? { port, host: options.host } : ({ port, host: options.host, reusePort: true } as { port: number }))
      })
      port = (server.address() as AddressInfo).port
    }
    return { servers, port, fallback, close }
  } catch (err) {
    await close()
    throw err
  }
}
