import { checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import { parseVariables, type VariableRef } from './seclang/parser.js'

/**
 * A plain exclusion (the common cases of the CRS's `ctl:ruleRemoveTargetById`): on the requests it
 * applies to (`path`: a path prefix or a RegExp over the path; `method`), take `target` out of the
 * `rules` it names (ids and `[from, to]` ranges; all rules when left out). Without `target` the
 * rules are removed; without `rules` and `target` the request is not inspected at all.
 *
 * @example { path: '/api/posts', target: 'ARGS:json.body' }        // a rich-text field
 * @example { target: 'REQUEST_COOKIES:session', rules: [942100] }
 * @example { path: '/healthz' }                                      // not inspected
 */
export interface WafExclusion {
  path?: string | RegExp
  method?: string
  rules?: readonly (number | readonly [number, number])[]
  target?: string
}

export interface CompiledExclusion {
  readonly applies: (method: string, path: string) => boolean
  readonly ranges: readonly (readonly [number, number])[]
  readonly targets: readonly VariableRef[] | undefined
  /** Neither rules nor target: the request is not inspected. */
  readonly skip: boolean
}

const ALL: readonly (readonly [number, number])[] = [[0, Number.MAX_SAFE_INTEGER]]

export function compileExclusions(value: unknown, field: string): CompiledExclusion[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new InvalidOptionError(`${field} must be a list of exclusions, got ${describeValue(value)}`, { field })
  return value.map((item, i) => {
    const f = `${field}[${i}]`
    const o = checkObject(item, f)
    rejectUnknownKeys(o, ['path', 'method', 'rules', 'target'], f)
    const path = o.path
    if (path !== undefined && typeof path !== 'string' && !(path instanceof RegExp)) throw new InvalidOptionError(`${f}.path must be a path prefix or a RegExp, got ${describeValue(path)}`, { field: `${f}.path` })
    if (o.method !== undefined && typeof o.method !== 'string') throw new InvalidOptionError(`${f}.method must be a method name`, { field: `${f}.method` })
    const method = (o.method as string | undefined)?.toUpperCase()
    let ranges = ALL
    if (o.rules !== undefined) {
      if (!Array.isArray(o.rules)) throw new InvalidOptionError(`${f}.rules must be a list of rule ids or [from, to] ranges`, { field: `${f}.rules` })
      ranges = o.rules.map((r: unknown) => {
        if (typeof r === 'number' && Number.isInteger(r) && r > 0) return [r, r] as const
        if (Array.isArray(r) && r.length === 2 && r.every((x) => Number.isInteger(x))) return [r[0] as number, r[1] as number] as const
        throw new InvalidOptionError(`${f}.rules has ${describeValue(r)}, which is not a rule id or a [from, to] range`, { field: `${f}.rules` })
      })
    }
    let targets: VariableRef[] | undefined
    if (o.target !== undefined) {
      if (typeof o.target !== 'string' || o.target === '') throw new InvalidOptionError(`${f}.target must be a variable such as 'ARGS:comment'`, { field: `${f}.target` })
      try {
        targets = parseVariables(o.target, f, { file: f, line: 0 })
      } catch (cause) {
        throw new InvalidOptionError(`${f}.target ${JSON.stringify(o.target)} is not a variable such as 'ARGS:comment'`, { field: `${f}.target`, cause })
      }
    }
    const matchPath = path === undefined ? () => true : typeof path === 'string' ? (p: string) => p.startsWith(path) : (p: string) => path.test(p)
    return {
      applies: (m: string, p: string) => (method === undefined || m === method) && matchPath(p),
      ranges,
      targets,
      skip: o.rules === undefined && targets === undefined,
    }
  })
}
