export {
  PassiveHealth,
  PASSIVE_DEFAULTS,
  normalizePassive,
  type PassiveOptions,
  type ResolvedPassiveOptions,
} from './passive.js'
