import type { IncomingMessage } from 'node:http'
import { checkBoolean, checkFunction, checkObject, describeValue, InvalidOptionError, refuse, rejectUnknownKeys } from '@switchyard/strategies'
import { ForbiddenError } from './errors.js'
import type { Middleware } from './middleware.js'
import { percentDecode, requestPath, requestQuery } from './request-path.js'
import { STARTER_RULES } from './starter-rules.js'

/**
 * One rule of {@link requestFilter}. Each has a `name` (reported to `onBlock`, never sent to the
 * client) and one test:
 *
 * - `allowMethods`: methods not listed are refused;
 * - `denyPath`: refused when it matches the path as the upstream will read it: absolute-form
 *   taken in origin-form, percent-decoded, dot-segments resolved, slashes merged (see the README);
 * - `denyQuery`: refused when it matches the query string, decoded (`+` as space);
 * - `denyHeader` + `pattern`: refused when that header's value matches;
 * - `maxHeaders`: refused with more header lines than this;
 * - `maxHeaderBytes`: refused when header names and values add up to more bytes than this.
 */
export type FilterRule = { readonly name: string } & (
  | { readonly allowMethods: readonly string[] }
  | { readonly denyPath: RegExp }
  | { readonly denyQuery: RegExp }
  | { readonly denyHeader: string; readonly pattern: RegExp }
  | { readonly maxHeaders: number }
  | { readonly maxHeaderBytes: number }
)

/** What `onBlock` hears of a refused request. */
export interface BlockInfo {
  /** The rule that matched. */
  readonly rule: string
  readonly method: string
  readonly url: string
}

/** Options of {@link requestFilter}. */
export interface RequestFilterOptions {
  /** The rules, checked in order; the first that matches refuses the request. */
  rules?: readonly FilterRule[]
  /**
   * Add the starter rules after `rules`: common SQL injection and XSS probes in the path and the
   * query (see the README for what they catch and what they do not).
   * @default false
   */
  starter?: boolean
  /** Called for each refused request with the rule that matched (log it; it is not in the answer). */
  onBlock?: (info: BlockInfo) => void
}

type Check = (req: IncomingMessage, path: () => string, query: () => string) => boolean

/** A query percent-decoded up to twice (a double-encoded `%253C` is still `<`), `+` as space; a bad escape stays as written. */
function decodeQuery(text: string): string {
  let s = text.replace(/\+/g, ' ')
  for (let i = 0; i < 2 && s.includes('%'); i++) s = percentDecode(s)
  return s
}

function compile(rule: FilterRule, field: string): Check {
  const r = rule as Record<string, unknown>
  if (typeof r.name !== 'string' || r.name === '') throw new InvalidOptionError(`${field}.name must be a non-empty string`, { field: `${field}.name` })
  const regex = (key: string): RegExp => {
    const v = r[key]
    if (!(v instanceof RegExp)) throw new InvalidOptionError(`${field}.${key} must be a RegExp, got ${describeValue(v)}`, { field: `${field}.${key}` })
    return v
  }
  const count = (key: string): number => {
    const v = r[key]
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new InvalidOptionError(`${field}.${key} must be a whole number, got ${describeValue(v)}`, { field: `${field}.${key}` })
    }
    return v
  }
  if ('allowMethods' in r) {
    rejectUnknownKeys(r, ['name', 'allowMethods'], field)
    const methods = r.allowMethods
    if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string')) {
      throw new InvalidOptionError(`${field}.allowMethods must be a list of methods`, { field: `${field}.allowMethods` })
    }
    const allowed = new Set((methods as string[]).map((m) => m.toUpperCase()))
    return (req) => !allowed.has(req.method ?? '')
  }
  if ('denyPath' in r) {
    rejectUnknownKeys(r, ['name', 'denyPath'], field)
    const re = regex('denyPath')
    return (_req, path) => re.test(path())
  }
  if ('denyQuery' in r) {
    rejectUnknownKeys(r, ['name', 'denyQuery'], field)
    const re = regex('denyQuery')
    return (_req, _path, query) => re.test(query())
  }
  if ('denyHeader' in r) {
    rejectUnknownKeys(r, ['name', 'denyHeader', 'pattern'], field)
    if (typeof r.denyHeader !== 'string') throw new InvalidOptionError(`${field}.denyHeader must be a header name`, { field: `${field}.denyHeader` })
    const name = r.denyHeader.toLowerCase()
    const re = regex('pattern')
    return (req) => {
      const v = req.headers[name]
      return v !== undefined && (Array.isArray(v) ? v.some((x) => re.test(x)) : re.test(v))
    }
  }
  if ('maxHeaders' in r) {
    rejectUnknownKeys(r, ['name', 'maxHeaders'], field)
    const max = count('maxHeaders')
    return (req) => req.rawHeaders.length / 2 > max
  }
  if ('maxHeaderBytes' in r) {
    rejectUnknownKeys(r, ['name', 'maxHeaderBytes'], field)
    const max = count('maxHeaderBytes')
    return (req) => {
      let n = 0
      for (const h of req.rawHeaders) n += h.length
      return n > max
    }
  }
  throw new InvalidOptionError(
    `${field} must have one of allowMethods, denyPath, denyQuery, denyHeader, maxHeaders, maxHeaderBytes`,
    { field },
  )
}

/**
 * A small rule engine over the method, path, query and headers, in front of the handler: the
 * first rule that matches refuses the request with `403` (`SWY_ERR_FORBIDDEN`); `onBlock` hears
 * which rule it was. `starter: true` adds rules against common SQL injection and XSS probes.
 * Not a web application firewall: it does not read bodies (see the README).
 *
 * @example
 * requestFilter({ starter: true, rules: [{ name: 'no-admin', denyPath: /^\/admin\b/ }], onBlock: (b) => log.warn(b) })
 */
export function requestFilter(options: RequestFilterOptions): Middleware {
  const o = checkObject(options, 'requestFilter()')
  rejectUnknownKeys(o, ['rules', 'starter', 'onBlock'], 'requestFilter()')
  const starter = checkBoolean(o.starter, 'requestFilter().starter', false)
  const onBlock = checkFunction<((info: BlockInfo) => void) | undefined>(o.onBlock, 'requestFilter().onBlock', undefined)
  if (o.rules !== undefined && !Array.isArray(o.rules)) {
    throw new InvalidOptionError(`requestFilter().rules must be a list of rules, got ${describeValue(o.rules)}`, { field: 'requestFilter().rules' })
  }
  const rules = [...((o.rules as FilterRule[] | undefined) ?? []), ...(starter ? STARTER_RULES : [])]
  const checks = rules.map((rule, i) => [rule.name, compile(rule, `requestFilter().rules[${i}]`)] as const)
  return (req, res, next) => {
    const url = req.url ?? '/'
    let path: string | undefined
    let query: string | undefined
    const pathOf = () => (path ??= requestPath(url))
    const queryOf = () => (query ??= decodeQuery(requestQuery(url)))
    for (const [name, check] of checks) {
      if (check(req, pathOf, queryOf)) {
        onBlock?.({ rule: name, method: req.method ?? '', url })
        refuse(res, new ForbiddenError('the request was refused'))
        return
      }
    }
    next()
  }
}
