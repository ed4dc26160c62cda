import { translatePcre } from '../regex/pcre.js'
import { type Operator, type OperatorFactory, parameter } from './types.js'

/**
 * `@rx`: a PCRE expression (regex/pcre.ts translates it) found anywhere in the input. With
 * `capture`, the match and its first nine groups become TX.0-TX.9. A parameter with macros is
 * compiled per distinct expansion (kept, as the CRS's expansions are few).
 */
export const rx: OperatorFactory = (param) => {
  if (param.indexOf('%{') === -1) return matcher(compile(param))
  const expand = parameter(param)
  const cache = new Map<string, RegExp>()
  return (input, scope, capture) => {
    const text = expand(scope)
    let re = cache.get(text)
    if (re === undefined) {
      re = compile(text)
      if (cache.size < 1_000) cache.set(text, re)
    }
    return matcher(re)(input, scope, capture)
  }
}

export function compile(pattern: string): RegExp {
  const { source, flags } = translatePcre(pattern)
  return new RegExp(source, flags)
}

/**
 * One `exec()`: on a value that does not match (nearly all of them) it costs what `test()` does and
 * makes no array; on one that matches, the match is not run twice.
 */
function matcher(re: RegExp): Operator {
  return (input, scope, capture) => {
    const m = re.exec(input)
    if (m === null) return null
    if (capture) scope.setCaptures(m)
    return m[0]
  }
}
