import { type Balancer, type BalancerEvents, type BalancerOptions, createBalancer } from '@switchyard/core'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

/** Options of the Switchyard Fastify plugin. */
export interface SwitchyardFastifyOptions {
  /**
   * A balancer, or the options to make one. One the plugin makes is closed with the app
   * (`app.close()`); one given is left to its owner.
   */
  balancer: Balancer | BalancerOptions
  /**
   * The path prefix whose requests are proxied (`/api` proxies `/api` and everything under it).
   * @default '' (every path the app has no other route for)
   */
  prefix?: string
  /**
   * What replaces the prefix in the path sent upstream, as @fastify/http-proxy's `rewritePrefix`:
   * `''` sends `/api/users` as `/users`; `'/v1'` as `/v1/users`.
   * @default ''
   */
  rewritePrefix?: string
  /**
   * Log each error the balancer answers or cuts a response with (no upstream, timeouts, a failed
   * upstream) through the app's logger at `warn`, with its `code`, the request line and the
   * upstreams tried. Fastify's own `request completed` line and `onResponse` hooks see every
   * proxied reply, errors included, but not why the balancer answered as it did.
   * @default true
   */
  logErrors?: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The balancer behind the Switchyard plugin. */
    switchyard: Balancer
  }
}

const isBalancer = (b: Balancer | BalancerOptions): b is Balancer => typeof (b as Balancer).handler === 'function'

/**
 * Proxies a prefix of a Fastify app through a Switchyard balancer, inside Fastify's lifecycle:
 * `onRequest` and `preHandler` hooks run first (authentication, rate limits), Fastify's body
 * parsers stay off these routes (bodies stream upstream unread, both ways, without buffering),
 * and the balancer answers through the raw response (`reply.hijack()`). The balancer is
 * `app.switchyard`.
 *
 * @example
 * await app.register(switchyard, { prefix: '/api', balancer: { upstreams: ['http://127.0.0.1:5000'] } })
 */
const plugin: FastifyPluginAsync<SwitchyardFastifyOptions> = async (app: FastifyInstance, options) => {
  if (options === null || typeof options !== 'object' || options.balancer === undefined) {
    throw new TypeError('@switchyard/fastify: options.balancer (a balancer or balancer options) is required')
  }
  const lb = isBalancer(options.balancer) ? options.balancer : createBalancer(options.balancer)
  if (!isBalancer(options.balancer)) app.addHook('onClose', async () => lb.close())
  app.decorate('switchyard', lb)
  if (options.logErrors !== false) {
    const log = (e: BalancerEvents['request:error']): void => {
      app.log.warn({ code: e.error.code, method: e.method, path: e.path, tried: e.tried }, `switchyard: ${e.error.message}`)
    }
    lb.on('request:error', log)
    app.addHook('onClose', async () => {
      lb.off('request:error', log)
    })
  }
  const prefix = (options.prefix ?? '').replace(/\/$/, '')
  if (prefix !== '' && !prefix.startsWith('/')) throw new TypeError(`@switchyard/fastify: prefix must start with '/', got ${JSON.stringify(prefix)}`)
  const rewrite = (options.rewritePrefix ?? '').replace(/\/$/, '')
  const proxy = (request: FastifyRequest, reply: FastifyReply): void => {
    const raw = request.raw
    const url = raw.url ?? '/'
    if (prefix !== '' || rewrite !== '') {
      const rest = url.slice(prefix.length)
      raw.url = `${rewrite}${rest.startsWith('/') ? rest : `/${rest}`}`
    }
    reply.hijack() // Fastify will not answer: the balancer does, on the raw response
    lb.handler(raw, reply.raw)
  }
  await app.register(
    async (api) => {
      api.removeAllContentTypeParsers() // leave bodies unread on these routes: the balancer streams them
      api.addContentTypeParser('*', (_request, _payload, done) => done(null))
      api.all('/', proxy)
      api.all('/*', proxy)
    },
    { prefix },
  )
}

/** `app.register(switchyard, { prefix, balancer })`. */
const switchyard = fp(plugin, { fastify: '5.x', name: '@switchyard/fastify' })
export default switchyard
export { switchyard }
