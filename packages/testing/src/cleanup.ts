/** Registers a function to run when the current test ends (vitest's `onTestFinished`, node:test's `t.after`). */
export type CleanupRegistrar = (close: () => unknown) => void

let registrar: CleanupRegistrar | undefined

/**
 * Closes every fixture the kit makes (upstreams, servers, Redis) when the test that made it
 * ends: call it once, in a setup file, with your runner's per-test hook — for vitest,
 * `closeFixturesWith(onTestFinished)`. Without it, close them yourself (`close()`, or
 * `await using`). A fixture made outside a test (in `beforeAll`) is left to its maker.
 *
 * @example
 * // vitest.setup.ts (vitest's `setupFiles`)
 * import { onTestFinished } from 'vitest'
 * import { closeFixturesWith } from '@switchyard/testing'
 * closeFixturesWith(onTestFinished)
 */
export function closeFixturesWith(register: CleanupRegistrar | undefined): void {
  registrar = register
}

/** For the kit's fixtures: `close` runs when the current test ends, if a registrar is set and a test is running. */
export function closeWithTest(close: () => unknown): void {
  if (registrar === undefined) return
  try {
    registrar(close)
  } catch {
    // not inside a test (a beforeAll hook): its maker closes it
  }
}
