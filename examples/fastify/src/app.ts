import switchyard from '@switchyard/fastify'
import Fastify, { type FastifyInstance } from 'fastify'

/** A Fastify app with Switchyard on `/api` (the prefix stripped), behind a token check. */
export async function makeApp(upstreams: string[], token: string): Promise<FastifyInstance> {
  const app = Fastify()
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/api') && request.headers.authorization !== `Bearer ${token}`) {
      return reply.code(401).send({ error: 'unauthorized' })
    }
  })
  await app.register(switchyard, { prefix: '/api', balancer: { upstreams } })
  app.get('/health', async () => ({ ok: true, upstreams: app.switchyard.upstreams.length }))
  return app
}
