/** The test kit's virtual clock, used by the repository's own tests too. */
export { type VirtualClock, virtualClock } from '@switchyard/testing'
