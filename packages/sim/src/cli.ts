#!/usr/bin/env node
import { cpus } from 'node:os'
import { scaleScenario, standardScenarios, standardStrategies } from './scenarios.js'
import { type SimReport, simulate } from './simulate.js'
import { formatTable } from './table.js'

/**
 * `pnpm sim`: every standard scenario with every strategy side by side, then the scale run.
 * `--quick` runs each for a tenth of the time (CI checks it still runs). `--seed N`.
 */
const args = process.argv.slice(2).filter((a) => a !== '--')
const quick = args.includes('--quick')
const seedAt = args.indexOf('--seed')
const seed = seedAt === -1 ? 1 : Number(args[seedAt + 1])

async function main(): Promise<void> {
  console.log(`# Switchyard simulator — seed ${seed}${quick ? ', quick' : ''}; Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}\n`)
  for (const scenario of standardScenarios(quick ? 0.1 : 1)) {
    console.log(`## ${scenario.name}\n`)
    const reports: SimReport[] = []
    for (const s of scenario.strategies?.() ?? standardStrategies()) reports.push(await simulate({ ...scenario, seed }, s))
    console.log(`${formatTable(reports)}\n`)
  }
  const scale = scaleScenario(quick ? 100_000 : 1_000_000)
  console.log(`## ${scale.name}\n`)
  const strategies = standardStrategies().filter((s) => s.name === 'powerOfTwo' || s.name === 'peakEwma')
  const scaled: SimReport[] = []
  for (const s of strategies) scaled.push(await simulate({ ...scale, seed }, s))
  console.log(`${formatTable(scaled)}\n`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
