import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loopbackServer, rawExchange, statusOf } from '@switchyard/testing'
import { type WafOptions, type WafReport, waf } from '@switchyard/waf'
import { type Sample, requestBytes } from '../fixtures/traffic.js'

/** Debian's modsecurity-crs (3.3.x): what CI installs, and what these tests load unmodified. */
export const DEBIAN_CRS = '/usr/share/modsecurity-crs'

/** A server whose only handler answers 200 `ok`, behind the WAF; `reports` collects onMatch. */
export async function firewalled(options: Omit<WafOptions, 'onMatch'>) {
  const reports: WafReport[] = []
  const firewall = waf({ ...options, onMatch: (r) => reports.push(r) })
  const served = await loopbackServer((req, res) =>
    firewall(req, res, (err) => {
      res.statusCode = err === undefined ? 200 : 500
      res.end('ok')
    }),
  )
  return { ...served, firewall, reports, send: (s: Sample) => sendTo(served.url, s) }
}

/** One sample, byte for byte, over a new connection: the answer's status. */
export async function sendTo(url: string, s: Sample): Promise<number> {
  const { text } = await rawExchange(url, requestBytes(s))
  return statusOf(text)
}

const MODULE = ['/usr/share/nginx/modules/ngx_http_modsecurity_module.so', '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so'].find((f) => existsSync(f))

/** nginx + libmodsecurity 3 + the CRS (packages/waf/scripts/modsec-nginx.mjs), on a free loopback port, until `close`. */
export async function modsecurity(crs: string, pl: number): Promise<{ url: string; close(): Promise<void> }> {
  if (MODULE === undefined) throw new Error('libnginx-mod-http-modsecurity is not installed (the preflight installs it)')
  const script = fileURLToPath(new URL('../../scripts/modsec-nginx.mjs', import.meta.url))
  const child = spawn(process.execPath, [script, '--crs', crs, '--pl', String(pl)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = /port=(\d+)/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child.on('exit', (code) => reject(new Error(`nginx + ModSecurity exited (${code}): ${err}`)))
  })
  const url = `http://127.0.0.1:${port}`
  // nginx loads the CRS after the script prints its port: wait until it answers.
  for (let i = 0; i < 100; i++) {
    if ((await rawExchange(url, 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', 1_000)).text.startsWith('HTTP/1.1')) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    close: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}
