import { parseJson } from './json.js'
import { parseMultipart } from './multipart.js'
import { parseUrlencoded } from './urlencoded.js'
import { parseXml } from './xml.js'

export { boundaryOf } from './multipart.js'

/** The body processors, by ModSecurity's names (`REQBODY_PROCESSOR`). */
export type BodyProcessor = 'URLENCODED' | 'MULTIPART' | 'JSON' | 'XML'

/** What a body gives the rules: arguments (ARGS_POST), files, part headers, XML text, and an error. */
export interface ParsedBody {
  readonly args: [string, string][]
  readonly files: { name: string; filename: string; size: number }[]
  readonly partHeaders: [string, string][]
  readonly xml: { text: string; attributes: string[] } | undefined
  readonly error: string | undefined
}

/**
 * The processor for a Content-Type, as ModSecurity's recommended configuration picks it:
 * urlencoded and multipart forms, JSON (`application/json`, `*+json`), XML (`text/xml`,
 * `application/xml`, `*+xml`); others get none (the body is still REQUEST_BODY).
 */
export function processorFor(contentType: string | undefined): BodyProcessor | undefined {
  if (contentType === undefined) return undefined
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase()
  if (type === 'application/x-www-form-urlencoded') return 'URLENCODED'
  if (type === 'multipart/form-data') return 'MULTIPART'
  if (type === 'application/json' || type.endsWith('+json')) return 'JSON'
  if (type === 'text/xml' || type === 'application/xml' || type.endsWith('+xml')) return 'XML'
  return undefined
}

/** Runs one processor over a body (a byte string). */
export function parseBody(processor: BodyProcessor, body: string, contentType: string): ParsedBody {
  const none = { args: [], files: [], partHeaders: [], xml: undefined }
  switch (processor) {
    case 'URLENCODED':
      return { ...none, args: parseUrlencoded(body), error: undefined }
    case 'JSON': {
      const { args, error } = parseJson(body)
      return { ...none, args, error }
    }
    case 'XML': {
      const { text, attributes, error } = parseXml(body)
      return { ...none, xml: { text, attributes }, error }
    }
    case 'MULTIPART': {
      const { parts, error } = parseMultipart(body, contentType)
      const args: [string, string][] = []
      const files: { name: string; filename: string; size: number }[] = []
      const partHeaders: [string, string][] = []
      for (const p of parts) {
        for (const h of p.headers) partHeaders.push([p.name, h])
        if (p.filename !== undefined) files.push({ name: p.name, filename: p.filename, size: p.value.length })
        else args.push([p.name, p.value])
      }
      return { args, files, partHeaders, xml: undefined, error }
    }
  }
}
