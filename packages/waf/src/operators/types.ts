/** What an operator may ask of the transaction it runs in. */
export interface OperatorScope {
  /** Expands `%{tx.name}`-style macros. */
  expand(text: string): string
  /** Records an expression's captures (`capture` action): TX.0 the whole match, TX.1… the groups. */
  setCaptures(groups: readonly (string | undefined)[]): void
}

/**
 * A compiled operator: the matched data when it matches (what `%{TX.0}` and the match report
 * show), or `null`. `capture` says the rule asked for captures.
 */
export type Operator = (input: string, scope: OperatorScope, capture: boolean) => string | null

/** Makes an operator from its parameter; `load` reads a data file of the rule set (`@pmFromFile`). */
export type OperatorFactory = (param: string, load: (name: string) => string) => Operator

/** A parameter with macros, expanded per transaction (the expansion is cached by its text). */
export function parameter(param: string): (scope: OperatorScope) => string {
  if (param.indexOf('%{') === -1) return () => param
  return (scope) => scope.expand(param)
}
