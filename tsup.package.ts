import { defineConfig, type Options } from 'tsup'

/** The build every package shares: ESM and CommonJS with types, for the Node floor (20). */
export function packageBuild(options: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    ...options,
  })
}
