import { WafRuleError } from '../errors.js'
import { type ActionRef, parseVariables, type VariableRef } from '../seclang/parser.js'
import type { Ctl, Disruptive, SetVar } from './rule.js'

/** Actions that only describe a rule or configure logging: accepted, and not acted on. */
const DESCRIPTIVE = new Set(['ver', 'rev', 'maturity', 'accuracy', 'auditlog', 'noauditlog', 'status', 'expirevar', 'initcol', 'setuid', 'setsid', 'setenv', 'setrsc', 'sanitisearg', 'sanitisematched', 'sanitisematchedbytes', 'sanitiserequestheader', 'sanitiseresponseheader', 'append', 'prepend', 'xmlns', 'deprecatevar', 'pause', 'sanitizearg', 'sanitizematched'])

const DISRUPTIVE = new Set<string>(['deny', 'drop', 'block', 'pass', 'allow', 'redirect', 'proxy'])

/** What one rule's actions say, before inheriting from `SecDefaultAction`. */
export interface RuleActions {
  id: number | undefined
  phase: number | undefined
  chain: boolean
  /** `t:` names in order; `none` clears what came before (the defaults too). */
  transforms: string[]
  clearsDefaults: boolean
  disruptive: Disruptive | undefined
  log: boolean | undefined
  setvars: SetVar[]
  ctls: Ctl[]
  capture: boolean
  multiMatch: boolean
  skipAfter: string | undefined
  skip: number
  msg: string | undefined
  logdata: string | undefined
  severity: string | undefined
  tags: string[]
}

export function readActions(list: readonly ActionRef[], at: { file: string; line: number }): RuleActions {
  const where = `${at.file}:${at.line}`
  const fail = (message: string): never => {
    throw new WafRuleError(`${where}: ${message}`, at)
  }
  const out: RuleActions = {
    id: undefined,
    phase: undefined,
    chain: false,
    transforms: [],
    clearsDefaults: false,
    disruptive: undefined,
    log: undefined,
    setvars: [],
    ctls: [],
    capture: false,
    multiMatch: false,
    skipAfter: undefined,
    skip: 0,
    msg: undefined,
    logdata: undefined,
    severity: undefined,
    tags: [],
  }
  for (const { name: raw, value } of list) {
    const name = raw.toLowerCase()
    const need = (): string => value ?? fail(`the action ${raw} needs a value`)
    if (name === 'id') {
      const id = Number(need())
      if (!Number.isInteger(id) || id <= 0) fail(`id:${value} is not a rule id`)
      out.id = id
    } else if (name === 'phase') out.phase = readPhase(need(), fail)
    else if (name === 'chain') out.chain = true
    else if (name === 't') {
      const t = need().toLowerCase()
      if (t === 'none') {
        out.transforms = []
        out.clearsDefaults = true
      } else out.transforms.push(t)
    } else if (DISRUPTIVE.has(name)) out.disruptive = name === 'proxy' ? 'deny' : (name as Disruptive)
    else if (name === 'log') out.log = true
    else if (name === 'nolog') out.log = false
    else if (name === 'setvar') out.setvars.push(readSetVar(need(), fail))
    else if (name === 'ctl') {
      const ctl = readCtl(need(), where, at, fail)
      if (ctl !== undefined) out.ctls.push(ctl)
    } else if (name === 'capture') out.capture = true
    else if (name === 'multimatch') out.multiMatch = true
    else if (name === 'skipafter') out.skipAfter = need()
    else if (name === 'skip') out.skip = Number(need()) || 0
    else if (name === 'msg') out.msg = need()
    else if (name === 'logdata') out.logdata = need()
    else if (name === 'severity') out.severity = need()
    else if (name === 'tag') out.tags.push(need())
    else if (!DESCRIPTIVE.has(name)) fail(`${raw} is not an action this engine knows`)
  }
  return out
}

function readPhase(value: string, fail: (m: string) => never): number {
  const v = value.toLowerCase()
  if (v === 'request') return 2
  if (v === 'response') return 4
  if (v === 'logging') return 5
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 5) fail(`phase:${value} is not a phase (1-5, request, response, logging)`)
  return n
}

/** `tx.a=+5`, `!tx.a`, `tx.%{rule.id}-x=%{tx.0}`, `ip.reput_block_flag=1`. */
function readSetVar(text: string, fail: (m: string) => never): SetVar {
  let s = text.trim()
  if (s.startsWith('!')) {
    s = s.slice(1)
    const dot = s.indexOf('.')
    if (dot === -1) fail(`setvar:${text} names no collection`)
    return { collection: s.slice(0, dot).toLowerCase(), name: nameOf(s.slice(dot + 1)), op: '!', value: '' }
  }
  const eq = s.indexOf('=')
  const target = eq === -1 ? s : s.slice(0, eq)
  const dot = target.indexOf('.')
  if (dot === -1) fail(`setvar:${text} names no collection`)
  let op: SetVar['op'] = '='
  let value = eq === -1 ? '1' : s.slice(eq + 1)
  if (eq !== -1 && (value.startsWith('+') || value.startsWith('-'))) {
    op = value[0] === '+' ? '=+' : '=-'
    value = value.slice(1)
  }
  return { collection: target.slice(0, dot).toLowerCase(), name: nameOf(target.slice(dot + 1)), op, value }
}

/** Variable names are kept in lower case: a name without a macro is lowered once, here. */
function nameOf(name: string): string {
  return name.includes('%{') ? name : name.toLowerCase()
}

/** `942100`, `942100-942199`, `1 2 3`: the rule ids a ctl or a directive names. */
export function readIdRanges(text: string, fail: (m: string) => never): [number, number][] {
  const out: [number, number][] = []
  for (const part of text.split(/[\s,]+/).filter((p) => p !== '')) {
    const [a, b] = part.split('-').map(Number)
    if (a === undefined || !Number.isInteger(a) || (b !== undefined && !Number.isInteger(b))) fail(`${part} is not a rule id or range`)
    out.push([a!, b ?? a!])
  }
  return out
}

function readCtl(text: string, where: string, at: { file: string; line: number }, fail: (m: string) => never): Ctl | undefined {
  const eq = text.indexOf('=')
  if (eq === -1) fail(`ctl:${text} has no value`)
  const name = text.slice(0, eq).trim().toLowerCase()
  const value = text.slice(eq + 1).trim()
  const targets = (): { head: string; targets: VariableRef[] } => {
    const semi = value.indexOf(';')
    if (semi === -1) fail(`ctl:${text} needs a target after ';'`)
    return { head: value.slice(0, semi), targets: parseVariables(value.slice(semi + 1), where, at) }
  }
  switch (name) {
    case 'ruleremovebyid':
      return { kind: 'removeById', ranges: readIdRanges(value, fail) }
    case 'ruleremovebytag':
      return { kind: 'removeByTag', tag: value }
    case 'ruleremovetargetbyid': {
      const { head, targets: t } = targets()
      return { kind: 'removeTargetById', ranges: readIdRanges(head, fail), targets: t }
    }
    case 'ruleremovetargetbytag': {
      const { head, targets: t } = targets()
      return { kind: 'removeTargetByTag', tag: head, targets: t }
    }
    case 'ruleengine': {
      const v = value.toLowerCase()
      if (v !== 'on' && v !== 'off' && v !== 'detectiononly') fail(`ctl:ruleEngine=${value} is not On, Off or DetectionOnly`)
      return { kind: 'ruleEngine', value: v as 'on' | 'off' | 'detectiononly' }
    }
    case 'requestbodyprocessor':
      return { kind: 'bodyProcessor', value: value.toUpperCase() }
    case 'forcerequestbodyvariable':
      return value.toLowerCase() === 'on' ? { kind: 'forceRequestBodyVariable' } : undefined
    case 'requestbodyaccess':
      return { kind: 'requestBodyAccess', on: value.toLowerCase() === 'on' }
    case 'auditengine':
    case 'auditlogparts':
    case 'requestbodylimit':
    case 'debugloglevel':
    case 'responsebodyaccess':
    case 'responsebodylimit':
    case 'hashengine':
    case 'parseXmlIntoArgs'.toLowerCase():
      return undefined
    default:
      return fail(`ctl:${name} is not a ctl this engine knows`)
  }
}
