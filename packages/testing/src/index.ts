export type { Answer, Answerer, ReceivedRequest } from './answer.js'
export { type FakeUpstream, type FakeUpstreamOptions, fakeUpstream } from './fake-upstream.js'
export { type FunctionUpstream, functionUpstream } from './function-upstream.js'
export { type VirtualClock, virtualClock } from './virtual-clock.js'
