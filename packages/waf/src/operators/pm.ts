import { PhraseMatcher } from './aho-corasick.js'
import type { Operator, OperatorFactory } from './types.js'

/** `@pm`: any of the space-separated phrases, case-insensitive, anywhere in the input (one automaton). */
export const pm: OperatorFactory = (param) => phrases(phraseList('pm', param, noFiles))

/**
 * `@pmFromFile` (`@pmf`): the phrases of data files of the rule set (one a line; `#` comments and
 * blank lines skipped), several files space-separated.
 */
export const pmFromFile: OperatorFactory = (param, load) => phrases(phraseList('pmfromfile', param, load))

const noFiles = (): string => ''

/** The phrases of a `@pm` (its parameter) or a `@pmFromFile` (its files). */
export function phraseList(operator: string, param: string, load: (name: string) => string): string[] {
  const words = param.split(/\s+/).filter((p) => p !== '')
  if (operator === 'pm') return words
  const list: string[] = []
  for (const name of words) {
    for (const line of load(name).split(/\r?\n/)) {
      const phrase = line.trim()
      if (phrase !== '' && !phrase.startsWith('#')) list.push(phrase)
    }
  }
  return list
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
