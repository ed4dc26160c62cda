import { type ParsedBody, parseBody, processorFor, type BodyProcessor } from '../body/index.js'
import { parseUrlencoded } from '../body/urlencoded.js'
import { urlDecode } from '../transformations/url-decode.js'
import { Entry, type KeptEntries } from './entry.js'
import { ListBuilder, NO_ENTRIES } from './lists.js'
import type { Target } from './rule.js'
import type { Prefilter } from './prefilter.js'
import type { Verdicts } from './verdicts.js'

/**
 * The request as the engine inspects it: what arrived, as the upstream will get it. Strings are
 * byte strings (Node gives header values and the request target as latin1, one char a byte).
 */
export interface WafRequest {
  readonly method: string
  /** The request target as sent: `/a/b?c=d` (or absolute-form). */
  readonly url: string
  /** `HTTP/1.1`, `HTTP/2.0`. */
  readonly protocol: string
  /** Header names and values, flat, in the order they came (`req.rawHeaders`). */
  readonly headers: readonly string[]
  readonly remoteAddress: string
  readonly remotePort: number
}

/** Variables that hold one value, and collections the engine fills; a rule naming another variable is refused at load. */
export const VARIABLES = new Set([
  'ARGS', 'ARGS_GET', 'ARGS_POST', 'ARGS_NAMES', 'ARGS_GET_NAMES', 'ARGS_POST_NAMES', 'ARGS_COMBINED_SIZE',
  'REQUEST_HEADERS', 'REQUEST_HEADERS_NAMES', 'REQUEST_COOKIES', 'REQUEST_COOKIES_NAMES',
  'REQUEST_METHOD', 'REQUEST_PROTOCOL', 'REQUEST_LINE', 'REQUEST_URI', 'REQUEST_URI_RAW', 'REQUEST_FILENAME',
  'REQUEST_BASENAME', 'QUERY_STRING', 'REMOTE_ADDR', 'REMOTE_PORT', 'REMOTE_HOST', 'SERVER_NAME', 'SERVER_PORT', 'REQUEST_BODY',
  'REQUEST_BODY_LENGTH', 'REQBODY_PROCESSOR', 'REQBODY_ERROR', 'REQBODY_ERROR_MSG', 'REQBODY_PROCESSOR_ERROR',
  'REQBODY_PROCESSOR_ERROR_MSG', 'FILES', 'FILES_NAMES', 'FILES_SIZES', 'FILES_COMBINED_SIZE', 'MULTIPART_PART_HEADERS',
  'MULTIPART_FILENAME', 'MULTIPART_NAME', 'MULTIPART_STRICT_ERROR', 'MULTIPART_UNMATCHED_BOUNDARY', 'XML', 'TX', 'IP',
  'GLOBAL', 'SESSION', 'USER', 'RESOURCE', 'ENV', 'GEO', 'MATCHED_VAR', 'MATCHED_VAR_NAME', 'MATCHED_VARS',
  'MATCHED_VARS_NAMES', 'UNIQUE_ID', 'DURATION', 'AUTH_TYPE', 'INBOUND_DATA_ERROR', 'FULL_REQUEST', 'FULL_REQUEST_LENGTH',
  'RULE', 'TIME', 'TIME_EPOCH', 'HIGHEST_SEVERITY', 'STATUS_LINE', 'URLENCODED_ERROR',
])

/** The lists {@link RequestVars.unclean} and {@link RequestVars.list} make (engine/lists.ts): each filled and taken before another begins. */
const UNCLEAN = new ListBuilder()
const LOUD = new ListBuilder()
const BUILT = new ListBuilder()

/** Collections the transaction holds, not the request (engine/transaction.ts). */
const HELD = new Set(['TX', 'MATCHED_VAR', 'MATCHED_VAR_NAME', 'MATCHED_VARS', 'MATCHED_VARS_NAMES', 'RULE', 'IP', 'GLOBAL', 'SESSION', 'USER', 'RESOURCE', 'ENV'])
const INDEXES = new Map([...VARIABLES].filter((c) => !HELD.has(c)).map((c, i) => [c, i]))

/** Collections made from the body: the only ones a body read changes (the headers, the URI and the query stay as built). */
export const BODY_COLLECTIONS = new Set([
  'ARGS', 'ARGS_POST', 'ARGS_NAMES', 'ARGS_POST_NAMES', 'ARGS_COMBINED_SIZE', 'REQUEST_BODY', 'REQUEST_BODY_LENGTH',
  'REQBODY_ERROR', 'REQBODY_PROCESSOR_ERROR', 'REQBODY_ERROR_MSG', 'REQBODY_PROCESSOR_ERROR_MSG', 'MULTIPART_STRICT_ERROR',
  'MULTIPART_UNMATCHED_BOUNDARY', 'FILES', 'FILES_NAMES', 'MULTIPART_NAME', 'MULTIPART_FILENAME', 'FILES_SIZES',
  'FILES_COMBINED_SIZE', 'MULTIPART_PART_HEADERS', 'XML', 'FULL_REQUEST', 'FULL_REQUEST_LENGTH',
])
const BODY_INDEXES = [...BODY_COLLECTIONS].map((c) => INDEXES.get(c)!)

/** A request collection's index for {@link RequestVars.list}; -1 for one the transaction holds. */
export function collectionIndex(collection: string): number {
  return INDEXES.get(collection) ?? -1
}


/** The request's variables, each built the first time a rule reads it. */
export class RequestVars {
  #lists: (readonly Entry[] | undefined)[] = []
  #unclean: (readonly Entry[] | undefined)[] = []
  #named: (Map<string, Entry[]> | undefined)[] = []
  #uncleanFor = -1
  #uncleanEpoch = -1
  readonly #req: WafRequest
  #args: [string, string][] | undefined
  #parts: { path: string; query: string } | undefined
  #body: ParsedBody | undefined
  #bodyText = ''
  processor: BodyProcessor | undefined
  forceBodyVariable = false
  /** Counts changes to what the variables hold (a ctl: REQUEST_BODY forced, another processor): every selection made before is stale. */
  version = 0
  /** Counts body reads: selections made before from {@link BODY_COLLECTIONS} are stale, the others hold. */
  bodyReads = 0
  #uncleanBody = 0
  bodyError: string | undefined

  /** @param kept entries shared across requests (engine/entry.ts); without, each request makes its own */
  constructor(
    req: WafRequest,
    readonly kept?: KeptEntries,
  ) {
    this.#req = req
    this.processor = processorFor(this.header('content-type'))
  }

  /** Something rules read changed (a ctl): built variables are dropped. */
  changed(): void {
    this.#lists = []
    this.#named = []
    this.version++
  }

  /** The first value of a header (lower-case name). */
  header(name: string): string | undefined {
    const h = this.#req.headers
    for (let i = 0; i < h.length; i += 2) if (h[i]!.length === name.length && h[i]!.toLowerCase() === name) return h[i + 1]
    return undefined
  }

  /** Parses the body with the processor chosen (by Content-Type, or a rule's `ctl:requestBodyProcessor`). */
  setBody(body: string): void {
    this.#bodyText = body
    for (const i of BODY_INDEXES) this.#lists[i] = this.#named[i] = undefined
    this.bodyReads++
    if (this.processor !== undefined && body !== '') {
      try {
        this.#body = parseBody(this.processor, body, this.header('content-type') ?? '')
      } catch (err) {
        this.#body = { args: [], files: [], partHeaders: [], xml: undefined, error: `the ${this.processor} body could not be read: ${(err as Error).message}` }
      }
      this.bodyError = this.#body.error
    }
  }

  #split(): { path: string; query: string } {
    return (this.#parts ??= this.#splitUrl())
  }

  #splitUrl(): { path: string; query: string } {
    const url = this.#req.url
    const q = url.indexOf('?')
    let path = q === -1 ? url : url.slice(0, q)
    // absolute-form (`GET http://host/p`): the path is what follows the authority.
    const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path)
    if (scheme !== null) path = path.slice(scheme[0].length) || '/'
    return { path, query: q === -1 ? '' : url.slice(q + 1) }
  }

  #getArgs(): [string, string][] {
    return (this.#args ??= parseUrlencoded(this.#split().query))
  }

  /** A collection by name (`ARGS`); a name the request does not hold is empty. */
  get(collection: string): readonly Entry[] {
    const index = collectionIndex(collection)
    return index === -1 ? NO_ENTRIES : this.list(index, collection)
  }

  /**
   * A collection less the values every target set reading it knows clean ({@link Verdicts.cleanFor}):
   * what repeats from request to request is left out once, not once per set. With `prefilter`,
   * less the quiet values as well: plain, seen for the first time (no verdicts) and holding no
   * rule's factor (engine/prefilter.ts), which only rules that run on every plain value visit (a
   * sku, an id: most values a request brings). Made again when the variables change or the
   * verdicts' epoch moves on.
   */
  unclean(index: number, collection: string, memo: Verdicts, prefilter?: Prefilter): readonly Entry[] {
    if (this.#uncleanFor !== this.version || this.#uncleanEpoch !== memo.epoch) {
      // Sized once (two lists per collection), then emptied in place: no array grown slot by slot.
      if (this.#unclean.length === 0) this.#unclean = new Array(INDEXES.size * 2).fill(undefined)
      else this.#unclean.fill(undefined)
      this.#uncleanFor = this.version
      this.#uncleanEpoch = memo.epoch
      this.#uncleanBody = this.bodyReads
    } else if (this.#uncleanBody !== this.bodyReads) {
      for (const i of BODY_INDEXES) this.#unclean[i * 2] = this.#unclean[i * 2 + 1] = undefined
      this.#uncleanBody = this.bodyReads
    }
    const at = index * 2
    let out = this.#unclean[prefilter === undefined ? at : at + 1]
    if (out !== undefined) return out
    const all = this.list(index, collection)
    if (this.kept?.allClean(collection, all, memo.epoch)) {
      // The same list as a request before, all of it clean then and so now (engine/entry.ts).
      this.#unclean[at] = this.#unclean[at + 1] = NO_ENTRIES
      return NO_ENTRIES
    }
    UNCLEAN.clear()
    LOUD.clear()
    for (let i = 0; i < all.length; i++) {
      const e = all[i]!
      let v = e.verdicts
      if (v === undefined) v = e.verdicts = memo.of(e.value) ?? null
      if (v !== null && memo.cleanFor(v, index, e.plain)) continue
      UNCLEAN.add(e)
      if (prefilter !== undefined && (v !== null || !e.plain || prefilter.any(e))) LOUD.add(e)
    }
    // Asked for less the quiet values, both lists are made at once (the other is free then).
    out = this.#unclean[at] = UNCLEAN.take()
    if (out.length === 0 && all.length !== 0) this.kept?.clean(collection, all, memo.epoch)
    if (prefilter === undefined) return out
    out = this.#unclean[at + 1] = LOUD.take()
    return out
  }

  /**
   * What a target of a rule is read from: a named member (`REQUEST_HEADERS:User-Agent`, when
   * `byName`) from an index by name, not a scan; for a rule set whose every rule has a slot
   * (`memo`), the collection less what that set can skip ({@link unclean}, less the quiet values
   * with `prefilter`); else all of it.
   */
  source(ref: Target, byName: boolean, memo: Verdicts | undefined, prefilter?: Prefilter): readonly Entry[] {
    if (byName && typeof ref.key === 'string') return this.named(ref.index, ref.collection, ref.key)
    return memo === undefined ? this.list(ref.index, ref.collection) : this.unclean(ref.index, ref.collection, memo, prefilter)
  }

  /** A collection's members named `name` (lower case), from an index made the first time one is asked for. */
  named(index: number, collection: string, name: string): readonly Entry[] {
    let byName = this.#named[index]
    if (byName === undefined) {
      byName = new Map()
      for (const e of this.list(index, collection)) {
        const list = byName.get(e.lower)
        if (list === undefined) byName.set(e.lower, [e])
        else list.push(e)
      }
      this.#named[index] = byName
    }
    return byName.get(name) ?? NO_ENTRIES
  }

  /** A collection by its index ({@link collectionIndex}), built the first time it is read. */
  list(index: number, collection: string): readonly Entry[] {
    return (this.#lists[index] ??= this.#build(collection))
  }

  #remember(collection: string, list: readonly Entry[]): readonly Entry[] {
    return this.kept === undefined ? list : this.kept.remember(collection, list)
  }

  #entry(collection: string, key: string, value: string): Entry {
    return this.kept === undefined ? new Entry(collection, key, value) : this.kept.get(collection, key, value)
  }

  #build(c: string): readonly Entry[] {
    const req = this.#req
    const post = this.#body?.args ?? []
    BUILT.clear()
    switch (c) {
      case 'ARGS':
        for (const [k, v] of this.#getArgs()) BUILT.add(this.#entry(c, k, v))
        for (const [k, v] of post) BUILT.add(this.#entry(c, k, v))
        return BUILT.take()
      case 'ARGS_GET':
        return this.#getArgs().map(([k, v]) => this.#entry(c, k, v))
      case 'ARGS_POST':
        return post.map(([k, v]) => this.#entry(c, k, v))
      case 'ARGS_NAMES': {
        const get = this.#getArgs()
        const again = this.kept?.again(c, (last) => sameNames(last, get, post))
        if (again !== undefined) return again
        for (const [k] of get) BUILT.add(this.#entry(c, k, k))
        for (const [k] of post) BUILT.add(this.#entry(c, k, k))
        return this.#remember(c, BUILT.take())
      }
      case 'ARGS_GET_NAMES':
        return this.#getArgs().map(([k]) => this.#entry(c, k, k))
      case 'ARGS_POST_NAMES':
        return post.map(([k]) => this.#entry(c, k, k))
      case 'ARGS_COMBINED_SIZE': {
        let n = 0
        for (const [k, v] of [...this.#getArgs(), ...post]) n += k.length + v.length
        return [this.#entry(c, '', String(n))]
      }
      case 'REQUEST_HEADERS':
      case 'REQUEST_HEADERS_NAMES': {
        const h = req.headers
        const values = c === 'REQUEST_HEADERS' ? 1 : 0
        const again = this.kept?.again(c, (last) => sameHeaders(last, h, values))
        if (again !== undefined) return again
        for (let i = 0; i < h.length; i += 2) BUILT.add(this.#entry(c, h[i]!, h[i + values]!))
        return this.#remember(c, BUILT.take())
      }
      case 'REQUEST_COOKIES':
      case 'REQUEST_COOKIES_NAMES': {
        const out: Entry[] = []
        for (let i = 0; i < req.headers.length; i += 2) {
          if (req.headers[i]!.toLowerCase() !== 'cookie') continue
          for (const pair of req.headers[i + 1]!.split(';')) {
            const p = pair.trim()
            if (p === '') continue
            const eq = p.indexOf('=')
            const name = eq === -1 ? p : p.slice(0, eq).trim()
            out.push(this.#entry(c, name, c === 'REQUEST_COOKIES' ? (eq === -1 ? '' : p.slice(eq + 1).trim()) : name))
          }
        }
        return out
      }
      case 'REQUEST_METHOD':
        return [this.#entry(c, '', req.method)]
      case 'REQUEST_PROTOCOL':
        return [this.#entry(c, '', req.protocol)]
      case 'REQUEST_LINE':
        return [this.#entry(c, '', `${req.method} ${req.url} ${req.protocol}`)]
      case 'REQUEST_URI_RAW':
        return [this.#entry(c, '', req.url)]
      case 'REQUEST_URI': {
        const { path, query } = this.#split()
        return [this.#entry(c, '', urlDecodePath(path) + (query === '' && !req.url.includes('?') ? '' : `?${query}`))]
      }
      case 'REQUEST_FILENAME':
        return [this.#entry(c, '', urlDecodePath(this.#split().path))]
      case 'REQUEST_BASENAME': {
        const path = urlDecodePath(this.#split().path)
        return [this.#entry(c, '', path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1))]
      }
      case 'QUERY_STRING':
        return [this.#entry(c, '', this.#split().query)]
      case 'REMOTE_ADDR':
      case 'REMOTE_HOST':
        return [this.#entry(c, '', req.remoteAddress)]
      case 'REMOTE_PORT':
        return [this.#entry(c, '', String(req.remotePort))]
      case 'SERVER_NAME':
        return [this.#entry(c, '', (this.header('host') ?? '').replace(/:\d+$/, ''))]
      case 'REQUEST_BODY':
        // The raw body, when no processor read it into arguments (urlencoded, or a type with no
        // processor), as ModSecurity 2 and Coraza keep it: a JSON, XML or multipart body is
        // inspected as what it holds, not twice. `ctl:forceRequestBodyVariable` adds it anyway.
        return [this.#entry(c, '', this.processor === undefined || this.processor === 'URLENCODED' || this.forceBodyVariable ? this.#bodyText : '')]
      case 'REQUEST_BODY_LENGTH':
        return [this.#entry(c, '', String(this.#bodyText.length))]
      case 'REQBODY_PROCESSOR':
        return [this.#entry(c, '', this.processor ?? '')]
      case 'REQBODY_ERROR':
      case 'REQBODY_PROCESSOR_ERROR':
        return [this.#entry(c, '', this.bodyError === undefined ? '0' : '1')]
      case 'REQBODY_ERROR_MSG':
      case 'REQBODY_PROCESSOR_ERROR_MSG':
        return [this.#entry(c, '', this.bodyError ?? '')]
      case 'MULTIPART_STRICT_ERROR':
      case 'MULTIPART_UNMATCHED_BOUNDARY':
        return [this.#entry(c, '', this.processor === 'MULTIPART' && this.bodyError !== undefined ? '1' : '0')]
      case 'FILES':
        return (this.#body?.files ?? []).map((f) => this.#entry(c, f.name, f.filename))
      case 'FILES_NAMES':
      case 'MULTIPART_NAME':
        return (this.#body?.files ?? []).map((f) => this.#entry(c, f.name, f.name))
      case 'MULTIPART_FILENAME':
        return (this.#body?.files ?? []).map((f) => this.#entry(c, f.name, f.filename))
      case 'FILES_SIZES':
        return (this.#body?.files ?? []).map((f) => this.#entry(c, f.name, String(f.size)))
      case 'FILES_COMBINED_SIZE':
        return [this.#entry(c, '', String((this.#body?.files ?? []).reduce((n, f) => n + f.size, 0)))]
      case 'MULTIPART_PART_HEADERS':
        return (this.#body?.partHeaders ?? []).map(([k, v]) => this.#entry(c, k, v))
      case 'XML': {
        const xml = this.#body?.xml
        if (xml === undefined) return []
        return [this.#entry(c, '/*', xml.text), ...xml.attributes.map((a) => this.#entry(c, '//@*', a))]
      }
      case 'FULL_REQUEST':
        return [this.#entry(c, '', `${req.method} ${req.url} ${req.protocol}\r\n${headerBlock(req.headers)}\r\n${this.#bodyText}`)]
      case 'FULL_REQUEST_LENGTH':
        return [this.#entry(c, '', String(`${req.method} ${req.url} ${req.protocol}\r\n${headerBlock(req.headers)}\r\n`.length + this.#bodyText.length))]
      case 'URLENCODED_ERROR':
      case 'INBOUND_DATA_ERROR':
      case 'DURATION':
        return [this.#entry(c, '', '0')]
      case 'AUTH_TYPE':
      case 'STATUS_LINE':
      case 'HIGHEST_SEVERITY':
        return [this.#entry(c, '', '')]
      case 'UNIQUE_ID':
        return [this.#entry(c, '', `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`)]
      case 'TIME':
      case 'TIME_EPOCH':
        return [this.#entry(c, '', c === 'TIME' ? new Date().toISOString() : String(Math.floor(Date.now() / 1000)))]
      default:
        return []
    }
  }
}

/** Whether `last` holds these argument names (the query's, then the body's), in this order. */
function sameNames(last: readonly Entry[], get: readonly (readonly [string, string])[], post: readonly (readonly [string, string])[]): boolean {
  if (last.length !== get.length + post.length) return false
  for (let i = 0; i < get.length; i++) if (last[i]!.key !== get[i]![0]) return false
  for (let i = 0, n = get.length; i < post.length; i++) if (last[n + i]!.key !== post[i]![0]) return false
  return true
}

/** Whether `last` holds these headers (name and value, or name twice when `values` is 0), in this order. */
function sameHeaders(last: readonly Entry[], h: readonly string[], values: number): boolean {
  if (last.length * 2 !== h.length) return false
  for (let i = 0; i < last.length; i++) {
    const e = last[i]!
    if (e.key !== h[i * 2] || e.value !== h[i * 2 + values]) return false
  }
  return true
}

function headerBlock(h: readonly string[]): string {
  let s = ''
  for (let i = 0; i < h.length; i += 2) s += `${h[i]}: ${h[i + 1]}\r\n`
  return s
}

/** The path percent-decoded (`+` is a plus in a path, not a space). */
function urlDecodePath(path: string): string {
  return path.indexOf('%') === -1 ? path : urlDecode(path.replaceAll('+', '%2B'))
}
