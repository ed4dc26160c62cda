import { type OperatorFactory, parameter } from './types.js'

/** `@streq`: the input equals the parameter. */
export const streq: OperatorFactory = (param) => {
  const p = parameter(param)
  return (input, scope) => (input === p(scope) ? input : null)
}

/** `@contains`: the parameter is found in the input. */
export const contains: OperatorFactory = (param) => {
  const p = parameter(param)
  return (input, scope) => {
    const needle = p(scope)
    return input.indexOf(needle) === -1 ? null : needle
  }
}

/** `@containsWord`: the parameter is found in the input as a whole word. */
export const containsWord: OperatorFactory = (param) => {
  const p = parameter(param)
  return (input, scope) => {
    const word = p(scope)
    if (word === '') return word
    let at = input.indexOf(word)
    while (at !== -1) {
      const before = at === 0 ? '' : input[at - 1]!
      const after = input[at + word.length] ?? ''
      if (!/\w/.test(before) && !/\w/.test(after)) return word
      at = input.indexOf(word, at + 1)
    }
    return null
  }
}

/** `@beginsWith`, `@endsWith`. */
export const beginsWith: OperatorFactory = (param) => {
  const p = parameter(param)
  return (input, scope) => (input.startsWith(p(scope)) ? input : null)
}

export const endsWith: OperatorFactory = (param) => {
  const p = parameter(param)
  return (input, scope) => (input.endsWith(p(scope)) ? input : null)
}

/** `@within`: the input is found in the parameter (the haystack). An empty input is not. */
export const within: OperatorFactory = (param) => {
  const p = parameter(param)
  return (input, scope) => (input !== '' && p(scope).indexOf(input) !== -1 ? input : null)
}

/** `@strmatch`: the parameter is found in the input (a plain substring search). */
export const strmatch = contains
