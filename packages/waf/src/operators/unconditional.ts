import type { OperatorFactory } from './types.js'

/** `@unconditionalMatch` (and `SecAction`): always matches. `@noMatch`: never. */
export const unconditionalMatch: OperatorFactory = () => (input) => input

export const noMatch: OperatorFactory = () => () => null
