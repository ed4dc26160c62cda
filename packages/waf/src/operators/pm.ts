import { PhraseMatcher } from './aho-corasick.js'
import type { Operator, OperatorFactory } from './types.js'

/** `@pm`: any of the space-separated phrases, case-insensitive, anywhere in the input (one automaton). */
export const pm: OperatorFactory = (param) => phrases(param.split(/\s+/).filter((p) => p !== ''))

/**
 * `@pmFromFile` (`@pmf`): the phrases of data files of the rule set (one a line; `#` comments and
 * blank lines skipped), several files space-separated.
 */
export const pmFromFile: OperatorFactory = (param, load) => {
  const list: string[] = []
  for (const name of param.split(/\s+/).filter((p) => p !== '')) {
    for (const line of load(name).split(/\r?\n/)) {
      const phrase = line.trim()
      if (phrase !== '' && !phrase.startsWith('#')) list.push(phrase)
    }
  }
  return phrases(list)
}

function phrases(list: readonly string[]): Operator {
  const matcher = new PhraseMatcher(list)
  return (input, scope, capture) => {
    const hit = matcher.find(input)
    if (hit === undefined) return null
    if (capture) scope.setCaptures([hit])
    return hit
  }
}
