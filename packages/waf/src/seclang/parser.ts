import { WafRuleError } from '../errors.js'
import type { Directive } from './lexer.js'

/**
 * SecLang directives read into rules, not yet compiled (engine/compile.ts does that). Names follow
 * the ModSecurity reference manual: a rule's *variables* (targets), *operator* and *actions*.
 */

/** A target of a rule: `ARGS`, `ARGS:id`, `!REQUEST_COOKIES:/^__utm/`, `&TX:score`, `XML:/*`. */
export interface VariableRef {
  /** Upper case: `ARGS`, `REQUEST_HEADERS`, `TX`. */
  readonly collection: string
  /** A member: a name (compared in lower case), a regular expression, or none (all members). */
  readonly key: string | RegExp | undefined
  /** `!`: this member is taken out of the rule's targets. */
  readonly exclude: boolean
  /** `&`: the number of members, not their values. */
  readonly count: boolean
}

/** One action: `id:942100`, `t:lowercase`, `msg:'…'`, `chain`. */
export interface ActionRef {
  readonly name: string
  readonly value: string | undefined
}

export interface OperatorRef {
  /** Without the `@`: `rx`, `pm`, `within`. */
  readonly name: string
  readonly negated: boolean
  readonly param: string
}

/** A `SecRule` (or `SecAction`, whose operator is `unconditionalMatch`), with the rules chained to it. */
export interface ParsedRule {
  readonly kind: 'rule'
  readonly file: string
  readonly line: number
  readonly variables: readonly VariableRef[]
  readonly operator: OperatorRef
  readonly actions: readonly ActionRef[]
  /** The next rule of its chain (`chain` action), if any. */
  chained: ParsedRule | undefined
}

export interface ParsedMarker {
  readonly kind: 'marker'
  readonly name: string
  readonly file: string
  readonly line: number
}

/** A configuration directive that changes other rules (`SecRuleRemoveById`, `SecRuleUpdateTargetById`, `SecDefaultAction`, …). */
export interface ParsedConfig {
  readonly kind: 'config'
  readonly name: string
  readonly args: readonly string[]
  readonly file: string
  readonly line: number
}

export type ParsedDirective = ParsedRule | ParsedMarker | ParsedConfig

/** Directives that configure a server, not rules: read, and ignored (the middleware's own options decide these). */
const IGNORED = new Set(
  [
    'SecComponentSignature',
    'SecCollectionTimeout',
    'SecRequestBodyAccess',
    'SecResponseBodyAccess',
    'SecRequestBodyLimit',
    'SecRequestBodyNoFilesLimit',
    'SecRequestBodyInMemoryLimit',
    'SecRequestBodyLimitAction',
    'SecResponseBodyLimit',
    'SecResponseBodyLimitAction',
    'SecResponseBodyMimeType',
    'SecPcreMatchLimit',
    'SecPcreMatchLimitRecursion',
    'SecTmpDir',
    'SecDataDir',
    'SecArgumentSeparator',
    'SecCookieFormat',
    'SecUnicodeMapFile',
    'SecStatusEngine',
    'SecAuditEngine',
    'SecAuditLog',
    'SecAuditLogParts',
    'SecAuditLogType',
    'SecAuditLogRelevantStatus',
    'SecAuditLogStorageDir',
    'SecAuditLogFormat',
    'SecDebugLog',
    'SecDebugLogLevel',
    'SecGeoLookupDb',
    'SecHttpBlKey',
    'SecUploadDir',
    'SecUploadKeepFiles',
    'SecUploadFileMode',
    'SecTmpSaveUploadedFiles',
    'SecServerSignature',
    'SecWebAppId',
    'SecSensorId',
    'SecArgumentsLimit',
  ].map((n) => n.toLowerCase()),
)

/** Directives kept for the engine to apply. */
const CONFIG = new Set(
  [
    'SecDefaultAction',
    'SecRuleEngine',
    'SecRuleRemoveById',
    'SecRuleRemoveByTag',
    'SecRuleRemoveByMsg',
    'SecRuleUpdateTargetById',
    'SecRuleUpdateTargetByTag',
    'SecRuleUpdateTargetByMsg',
    'SecRuleUpdateActionById',
  ].map((n) => n.toLowerCase()),
)

/** Reads lexed directives into rules, markers and configuration; chains are linked. */
export function parse(directives: readonly Directive[]): ParsedDirective[] {
  const out: ParsedDirective[] = []
  let chainTail: ParsedRule | undefined
  for (const d of directives) {
    const name = d.name.toLowerCase()
    const where = `${d.file}:${d.line}`
    if (name === 'secrule' || name === 'secaction') {
      const rule = name === 'secrule' ? parseSecRule(d, where) : parseSecAction(d, where)
      if (chainTail !== undefined) chainTail.chained = rule
      else out.push(rule)
      chainTail = rule.actions.some((a) => a.name === 'chain') ? rule : undefined
      continue
    }
    if (chainTail !== undefined) throw new WafRuleError(`${where}: a chain is left open (the rule before ${d.name} has 'chain')`, { file: d.file, line: d.line })
    if (name === 'secmarker') {
      if (d.args.length !== 1) throw new WafRuleError(`${where}: SecMarker takes one name`, { file: d.file, line: d.line })
      out.push({ kind: 'marker', name: d.args[0]!, file: d.file, line: d.line })
    } else if (CONFIG.has(name)) out.push({ kind: 'config', name: d.name, args: d.args, file: d.file, line: d.line })
    else if (!IGNORED.has(name)) throw new WafRuleError(`${where}: ${d.name} is not a directive this engine knows`, { file: d.file, line: d.line })
  }
  if (chainTail !== undefined) throw new WafRuleError(`${chainTail.file}:${chainTail.line}: a chain is left open at the end of the file`, { file: chainTail.file, line: chainTail.line })
  return out
}

function parseSecRule(d: Directive, where: string): ParsedRule {
  if (d.args.length < 2 || d.args.length > 3) throw new WafRuleError(`${where}: SecRule takes variables, an operator and actions`, { file: d.file, line: d.line })
  return {
    kind: 'rule',
    file: d.file,
    line: d.line,
    variables: parseVariables(d.args[0]!, where, d),
    operator: parseOperator(d.args[1]!),
    actions: d.args[2] === undefined ? [] : parseActions(d.args[2], where, d),
    chained: undefined,
  }
}

function parseSecAction(d: Directive, where: string): ParsedRule {
  if (d.args.length > 1) throw new WafRuleError(`${where}: SecAction takes one list of actions`, { file: d.file, line: d.line })
  return {
    kind: 'rule',
    file: d.file,
    line: d.line,
    variables: [],
    operator: { name: 'unconditionalMatch', negated: false, param: '' },
    actions: d.args[0] === undefined ? [] : parseActions(d.args[0], where, d),
    chained: undefined,
  }
}

/** `@rx a`, `!@eq 0`, or a bare regular expression (`@rx` is the default). */
export function parseOperator(text: string): OperatorRef {
  let s = text
  let negated = false
  if (s.startsWith('!')) {
    negated = true
    s = s.slice(1)
  }
  if (!s.startsWith('@')) return { name: 'rx', negated, param: s }
  const space = s.search(/\s/)
  if (space === -1) return { name: s.slice(1), negated, param: '' }
  return { name: s.slice(1, space), negated, param: s.slice(space + 1) }
}

/**
 * `ARGS|!ARGS:foo|REQUEST_HEADERS:/^x-/|&TX:a`: split on `|` outside a `/…/` key, each read into
 * a {@link VariableRef}.
 */
export function parseVariables(text: string, where: string, d: { file: string; line: number }): VariableRef[] {
  const parts: string[] = []
  let current = ''
  let inRegex = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    // A key `/…/` is a regular expression, where `|` does not split; XML's keys are XPath (`XML:/*`).
    if (c === '/' && text[i - 1] === ':' && !inRegex && !/(?:^|[|!&])XML$/i.test(current.slice(0, -1))) inRegex = true
    else if (c === '/' && inRegex && text[i - 1] !== '\\') inRegex = false
    if (c === '|' && !inRegex) {
      parts.push(current)
      current = ''
      continue
    }
    current += c
  }
  parts.push(current)
  return parts.map((p) => {
    let s = p.trim()
    let exclude = false
    let count = false
    if (s.startsWith('!')) {
      exclude = true
      s = s.slice(1)
    }
    if (s.startsWith('&')) {
      count = true
      s = s.slice(1)
    }
    const colon = s.indexOf(':')
    const collection = (colon === -1 ? s : s.slice(0, colon)).toUpperCase()
    if (!/^[A-Z_0-9]+$/.test(collection)) throw new WafRuleError(`${where}: ${JSON.stringify(p)} is not a variable`, { file: d.file, line: d.line })
    let key: string | RegExp | undefined
    if (colon !== -1) {
      const raw = s.slice(colon + 1).replace(/^'(.*)'$/, '$1')
      if (raw.length > 1 && raw.startsWith('/') && raw.endsWith('/') && collection !== 'XML') {
        try {
          key = new RegExp(raw.slice(1, -1), 'i')
        } catch (cause) {
          throw new WafRuleError(`${where}: the variable key ${raw} is not a regular expression this engine can run`, { file: d.file, line: d.line, cause })
        }
      } else key = collection === 'XML' ? raw : raw.toLowerCase()
    }
    return { collection, key, exclude, count }
  })
}

/** `id:1,phase:2,msg:'a, b',t:none`: split on commas outside single quotes; values unquoted. */
export function parseActions(text: string, where: string, d: { file: string; line: number }): ActionRef[] {
  const out: ActionRef[] = []
  let i = 0
  const n = text.length
  while (i < n) {
    while (i < n && /[\s,]/.test(text[i]!)) i++
    if (i >= n) break
    let name = ''
    while (i < n && text[i] !== ':' && text[i] !== ',') name += text[i++]
    name = name.trim()
    let value: string | undefined
    if (text[i] === ':') {
      i++
      while (i < n && text[i] === ' ') i++
      if (text[i] === "'") {
        i++
        value = ''
        let closed = false
        while (i < n) {
          const c = text[i]!
          if (c === '\\' && text[i + 1] === "'") {
            value += "'"
            i += 2
            continue
          }
          if (c === "'") {
            closed = true
            i++
            break
          }
          value += c
          i++
        }
        if (!closed) throw new WafRuleError(`${where}: the value of action ${name} is not closed`, { file: d.file, line: d.line })
      } else {
        value = ''
        while (i < n && text[i] !== ',') value += text[i++]
        value = value.trim()
      }
    }
    if (name !== '') out.push({ name: name.toLowerCase() === 't' ? 't' : name, value })
  }
  return out
}
