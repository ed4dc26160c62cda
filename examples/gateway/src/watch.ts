import { unwatchFile, watchFile } from 'node:fs'

/**
 * Calls `onChange` when one of `files` changes (the certificate and key, the config file).
 * `watchFile` polls every `interval` ms: it works on every filesystem, and a file replaced by a
 * rename (how renewals and editors save) is seen too. 0 turns it off. Returns the stop.
 */
export function watchFiles(files: readonly string[], interval: number, onChange: () => void): () => void {
  if (interval <= 0) return () => {}
  const listener = (curr: { mtimeMs: number }, prev: { mtimeMs: number }) => {
    if (curr.mtimeMs !== prev.mtimeMs) onChange()
  }
  for (const f of files) watchFile(f, { interval, persistent: false }, listener)
  return () => {
    for (const f of files) unwatchFile(f, listener)
  }
}
