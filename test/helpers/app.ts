import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Balancer } from '@switchyard/core'
import { onTestFinished } from 'vitest'

/**
 * Listens with `app` (an Express app, or anything whose `listen(port, host)` returns an
 * `http.Server`) on 127.0.0.1:0 and returns its base URL; the server and `lb` close after the test.
 */
export async function listenApp(app: { listen(port: number, host: string): Server }, lb: Balancer): Promise<string> {
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    server.closeAllConnections()
    server.close()
    await lb.close()
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
