import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

// Tests import packages by their npm names; these aliases point them at the sources, so no test
// needs a build.
/** Every project's setup: the test kit's fixtures close with the test that made them. */
const setupFiles = [fileURLToPath(new URL('./test/setup.ts', import.meta.url))]
/**
 * What every project runs with. Projects do not inherit the root's `test` options, so the time
 * limits are set here: 20 s for a test or a hook (vitest's own 5 s is too close for the tests on
 * real sockets when a CI machine is loaded: the keep-alive race test takes 4 s on an idle one).
 */
const base = { setupFiles, testTimeout: 20_000, hookTimeout: 20_000 }

const alias = [
  { find: /^@switchyard\/health\/internal$/, replacement: src('health').replace(/index\.ts$/, 'internal.ts') },
  ...Object.entries({
    '@switchyard/strategies': src('strategies'),
    '@switchyard/health': src('health'),
    '@switchyard/core': src('core'),
    '@switchyard/sim': src('sim'),
    '@switchyard/guard': src('guard'),
    '@switchyard/waf': src('waf'),
    '@switchyard/testing': src('testing'),
    '@switchyard/observe': src('observe'),
    '@switchyard/fastify': src('fastify'),
  }).map(([name, replacement]) => ({ find: new RegExp(`^${name}$`), replacement })),
]

export default defineConfig({
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          ...base,
          name: 'strategies',
          include: ['packages/strategies/test/**/*.test.ts'],
          benchmark: { include: ['packages/strategies/bench/**/*.bench.ts'] },
        },
      },
      { resolve: { alias }, test: { ...base, name: 'health', include: ['packages/health/test/**/*.test.ts'] } },
      { resolve: { alias }, test: { ...base, name: 'core', include: ['packages/core/test/**/*.test.ts'] } },
      { resolve: { alias }, test: { ...base, name: 'sim', include: ['packages/sim/test/**/*.test.ts'] } },
      { resolve: { alias }, test: { ...base, name: 'guard', include: ['packages/guard/test/**/*.test.ts'] } },
      { resolve: { alias }, test: { ...base, name: 'waf', include: ['packages/waf/test/**/*.test.ts'] } },
      { resolve: { alias }, test: { ...base, name: 'testing', include: ['packages/testing/test/**/*.test.ts'] } },
      { resolve: { alias }, test: { ...base, name: 'observe', include: ['packages/observe/test/**/*.test.ts'] } },
      { resolve: { alias }, test: { ...base, name: 'examples', include: ['examples/*/test/**/*.test.ts'] } },
      { resolve: { alias }, test: { ...base, name: 'e2e', include: ['test/**/*.test.ts'] } },
    ],
    // On CI, also write vitest's JSON report: .ci/run prints its summary line from it.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.ci/vitest-results.json' },
  },
})
