export { SwitchyardError, InvalidOptionError, type SwitchyardErrorOptions } from './errors.js'
export type { Candidate, Outcome, PickContext, Strategy, StrategyDeps, UpstreamState } from './strategy.js'
export { roundRobin, type RoundRobinOptions } from './round-robin.js'
export {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkObject,
  describeValue,
  rejectUnknownKeys,
} from './options-check.js'
