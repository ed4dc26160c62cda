/**
 * How long a value may be for its verdicts to be remembered across requests (engine/verdicts.ts):
 * headers, cookies, argument names and short values repeat in real traffic; a long body value
 * rarely does, and keeping it would cost memory for nothing.
 */
export const MEMO_VALUE_BYTES = 256
