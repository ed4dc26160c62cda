// @fastify/http-proxy, round robin over the upstreams through replyOptions.getUpstream (its way to
// choose the upstream per request; an upstream array is not accepted).
import proxy from '@fastify/http-proxy'
import Fastify from 'fastify'

const upstreams = process.env.UPSTREAMS.split(',')
let next = 0
const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 })
await app.register(proxy, {
  upstream: '',
  replyOptions: { getUpstream: () => upstreams[next++ % upstreams.length] },
  undici: { connections: 1024, pipelining: 1 },
})
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
