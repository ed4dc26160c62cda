import { isHex } from '../transformations/url-decode.js'
import type { OperatorFactory } from './types.js'

/** `@validateUrlEncoding`: matches a `%` that is not followed by two hex digits. */
export const validateUrlEncoding: OperatorFactory = () => (input) => {
  for (let at = input.indexOf('%'); at !== -1; at = input.indexOf('%', at + 1)) {
    if (!isHex(input.charCodeAt(at + 1)) || !isHex(input.charCodeAt(at + 2))) return input.slice(at, at + 3)
  }
  return null
}
