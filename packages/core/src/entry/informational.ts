import type { ServerResponse } from 'node:http'

/** 103 Early Hints (its `Link` headers, so the browser preloads while the upstream works) and 102 Processing, relayed on `res`. */
export function relayInformational(res: ServerResponse, isHttp2: boolean, statusCode: number, rawHeaders: Buffer[]): void {
  if (res.headersSent || res.destroyed) return
  if (statusCode === 102 && !isHttp2) {
    res.writeProcessing()
    return
  }
  if (statusCode !== 103) return
  const links: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 4 || rawHeaders[i]!.toString('latin1').toLowerCase() !== 'link') continue
    // One header may carry several links, comma-separated; Node takes them one by one.
    for (const link of rawHeaders[i + 1]!.toString('latin1').split(/,\s*(?=<)/)) links.push(link.trim())
  }
  if (links.length === 0) return
  try {
    res.writeEarlyHints({ link: links })
  } catch {
    // A hint Node will not write is only a hint: the final answer still goes.
  }
}
