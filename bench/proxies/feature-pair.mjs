// One process, two servers, for the one-process A/B of a feature (lib/cost.mjs, pairAB): the
// library alone on PORT (`http.createServer(lb.handler)`, every default) and, on PORT2, a
// balancer of its own with one optional feature (FEATURE):
//   control     the library alone again (the A/B's own resolution: ideally 1.00)
//   guards      compose(ipFilter(loopback + private), rateLimit(never reached), lb.handler)
//   transforms  rewritePath + a request and a response header table
//   observed    prometheus() into a registry + accessLog() in batches to /dev/null (pino.destination)
//   gateway     the example gateway (startGateway), configured from this process's environment
//   gateway-off as its own process would be: run.mjs passes the environment of its
//               switchyard-defaults row (gateway) or of its switchyard row (gateway-off)
// Both share the process, so what differs between two processes (V8's layout and its choices of
// what to optimize) cannot decide the comparison; the load alternates between the ports.
import http from 'node:http'
import { createBalancer } from '@switchyard/core'
import { compose, ipFilter, rateLimit } from '@switchyard/guard'
import { accessLog, prometheus } from '@switchyard/observe'
import pino from 'pino'
import { Registry } from 'prom-client'
import { loadConfig, startGateway } from '../../examples/gateway/dist/index.js'

const upstreams = process.env.UPSTREAMS.split(',')
const feature = process.env.FEATURE ?? 'control'

function variant() {
  if (feature === 'transforms') {
    return createBalancer({
      upstreams,
      rewritePath: { stripPrefix: '/api' },
      requestHeaders: { set: { 'x-env': 'bench' }, remove: ['x-debug'] },
      responseHeaders: { set: { 'x-served-by': 'switchyard' } },
    }).handler
  }
  const lb = createBalancer({ upstreams })
  if (feature === 'guards') return compose(ipFilter({ allow: ['loopback', 'private'] }), rateLimit({ rate: 1e9, burst: 1_000_000_000 }), lb.handler)
  if (feature === 'observed') {
    prometheus(lb, { registry: new Registry() })
    accessLog(lb, pino.destination({ dest: '/dev/null', sync: false }))
  } else if (feature !== 'control') throw new Error(`FEATURE=${feature}: control, guards, transforms, observed, gateway or gateway-off`)
  return lb.handler
}

http.createServer(createBalancer({ upstreams }).handler).listen(Number(process.env.PORT), '127.0.0.1')
if (feature === 'gateway' || feature === 'gateway-off') {
  // The gateway's own server and site, configured from the environment as its process would be,
  // on PORT2 (one worker: a cluster would put the gateway in other processes).
  await startGateway(loadConfig([], { ...process.env, PORT: process.env.PORT2, HOST: '127.0.0.1', WORKERS: '1' }))
} else {
  http.createServer(variant()).listen(Number(process.env.PORT2), '127.0.0.1')
}
