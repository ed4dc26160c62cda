import { lex } from '../seclang/lexer.js'
import { type ParsedDirective, parse } from '../seclang/parser.js'
import { compile, type DataLoader, type RuleSet } from './compile.js'
import { foldPhases } from './fold.js'
import { RequestVars, type WafRequest } from './request-vars.js'
import type { Interruption, WafMatch } from './matches.js'
import { Transaction } from './transaction.js'

export interface Source {
  readonly file: string
  readonly text: string
}

/** What the engine concluded about one request. */
export interface Verdict {
  /** The rule that stopped the request (`deny`), if one did. */
  readonly interruption: Interruption | undefined
  /** Every logged rule that matched, in the order they ran. */
  readonly matches: readonly WafMatch[]
  /** The inbound anomaly score (CRS). */
  readonly score: number
}

/** The request a rule that reads only TX is run on at load (engine/fold.ts): it reads none of it. */
const NO_REQUEST: WafRequest = { method: 'GET', url: '/', protocol: 'HTTP/1.1', headers: [], remoteAddress: '', remotePort: 0 }

/** Rules compiled once; a {@link Transaction} per request. */
export class Engine {
  readonly rules: RuleSet
  constructor(sources: readonly Source[], load: DataLoader, options: { plain?: boolean } = {}) {
    const directives: ParsedDirective[] = []
    for (const s of sources) directives.push(...parse(lex(s.text, s.file)))
    this.rules = compile(directives, load, options)
    this.rules.folds = foldPhases(this.rules.phases, this.rules.jumps, (rule, tx) => {
      const t = new Transaction(this.rules, new RequestVars(NO_REQUEST))
      for (const [k, v] of tx) t.tx.set(k, v)
      const { matched, last } = t.runAlone(rule)
      return { matched, tx: t.tx, last }
    })
  }

  begin(req: WafRequest): Transaction {
    this.rules.verdicts.begin()
    return new Transaction(this.rules, new RequestVars(req, this.rules.keptEntries))
  }

  /** Both phases at once, for a request whose body (a byte string, or a Buffer) is in hand. */
  inspect(req: WafRequest, body?: string | Buffer): Verdict {
    const t = this.begin(req)
    if (t.run(1) && t.bodyAccess) {
      if (body !== undefined) t.vars.setBody(typeof body === 'string' ? body : body.toString('latin1'))
    }
    t.run(2)
    return verdict(t)
  }
}

function verdict(t: Transaction): Verdict {
  return { interruption: t.interruption, matches: t.matches, score: t.score() }
}
