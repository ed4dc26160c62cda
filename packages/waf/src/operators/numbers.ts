import { type OperatorFactory, parameter } from './types.js'

/** A number as ModSecurity reads one from text: its leading integer, else 0. */
export function toNumber(text: string): number {
  const n = Number.parseInt(text, 10)
  return Number.isNaN(n) ? 0 : n
}

function compare(test: (a: number, b: number) => boolean): OperatorFactory {
  return (param) => {
    const p = parameter(param)
    return (input, scope) => (test(toNumber(input), toNumber(p(scope))) ? input : null)
  }
}

/** `@eq`, `@ge`, `@gt`, `@le`, `@lt`: the input compared as a number with the parameter. */
export const eq = compare((a, b) => a === b)
export const ge = compare((a, b) => a >= b)
export const gt = compare((a, b) => a > b)
export const le = compare((a, b) => a <= b)
export const lt = compare((a, b) => a < b)
