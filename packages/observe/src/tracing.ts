import diagnostics from 'node:diagnostics_channel'
import type { AttemptStartMessage, RequestEndMessage, RequestStartMessage } from '@switchyard/core'

/** Options of {@link tracing}. */
export interface TracingOptions {
  /** The tracer's name. @default '@switchyard/observe' */
  tracerName?: string
}

/** What {@link tracing} returns. */
export interface Tracing {
  /** False when `@opentelemetry/api` is not installed: nothing is traced, nothing costs. */
  readonly enabled: boolean
  /** Stops tracing (unsubscribes from the balancer's channels). */
  close(): void
}

type Api = typeof import('@opentelemetry/api')
type Span = import('@opentelemetry/api').Span
type Context = import('@opentelemetry/api').Context

interface Open {
  span: Span
  context: Context
  /** Attempt spans by upstream, oldest first, with their start (epoch ms). */
  attempts: Map<string, { span: Span; start: number }[]>
}

const now = (): number => performance.timeOrigin + performance.now()

/**
 * OpenTelemetry spans for every balancer in the process: one per request (kind SERVER, a child of
 * the client's `traceparent` when it sent one) and one per attempt (kind CLIENT, a child of the
 * request's), with the W3C `traceparent` of the attempt's span sent upstream, so the upstream's
 * own spans join the trace. It subscribes to the balancer's `node:diagnostics_channel` channels
 * (`switchyard:request:start`, `switchyard:attempt:start`, `switchyard:request:end`), and uses
 * whatever tracer provider and propagator the app registered with `@opentelemetry/api`, an
 * optional peer: without it, `enabled` is false and nothing is done.
 *
 * @example
 * const t = await tracing()   // after the OpenTelemetry SDK is set up
 */
export async function tracing(options: TracingOptions = {}): Promise<Tracing> {
  let api: Api
  try {
    api = await import('@opentelemetry/api')
  } catch {
    return { enabled: false, close() {} }
  }
  const tracer = api.trace.getTracer(options.tracerName ?? '@switchyard/observe')
  const open = new WeakMap<object, Open>()

  const onStart = (message: unknown): void => {
    const m = message as RequestStartMessage
    const parent = api.propagation.extract(api.context.active(), m, {
      get: (carrier, key) => carrier.header(key),
      keys: () => [],
    })
    const span = tracer.startSpan(
      m.method,
      { kind: api.SpanKind.SERVER, attributes: { 'http.request.method': m.method, 'url.path': m.path } },
      parent,
    )
    open.set(m.request, { span, context: api.trace.setSpan(parent, span), attempts: new Map() })
  }

  const onAttempt = (message: unknown): void => {
    const m = message as AttemptStartMessage
    const r = open.get(m.request)
    if (r === undefined) return
    const span = tracer.startSpan(
      `upstream ${m.upstream}`,
      { kind: api.SpanKind.CLIENT, attributes: { 'switchyard.upstream': m.upstream, 'switchyard.attempt': m.attempt, 'switchyard.hedge': m.hedge } },
      r.context,
    )
    let list = r.attempts.get(m.upstream)
    if (list === undefined) r.attempts.set(m.upstream, (list = []))
    list.push({ span, start: now() })
    api.propagation.inject(api.trace.setSpan(r.context, span), m, { set: (carrier, key, value) => carrier.setHeader(key, value) })
  }

  const onEnd = (message: unknown): void => {
    const m = message as RequestEndMessage
    const r = open.get(m.request)
    if (r === undefined) return
    open.delete(m.request)
    const t = m.trace
    // Attempts end in the trace in the order they ended; spans are matched by upstream, in start order.
    for (const a of t.attempts) {
      const started = r.attempts.get(a.upstream)?.shift()
      if (started === undefined) continue
      const { span, start } = started
      if (a.status !== undefined) span.setAttribute('http.response.status_code', a.status)
      if (a.error !== undefined) {
        span.setAttribute('error.type', a.error)
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: a.error })
      }
      if (a.lost === true) span.setAttribute('switchyard.lost', true)
      span.setAttribute('switchyard.judged', a.judged)
      span.end(start + a.ms)
    }
    for (const list of r.attempts.values()) for (const { span } of list) span.end()
    if (t.status !== 0) r.span.setAttribute('http.response.status_code', t.status)
    if (t.error !== undefined) {
      r.span.setAttribute('error.type', t.error)
      r.span.setStatus({ code: api.SpanStatusCode.ERROR, message: t.error })
    }
    r.span.setAttribute('switchyard.attempts', t.attempts.length)
    r.span.end()
  }

  diagnostics.subscribe('switchyard:request:start', onStart)
  diagnostics.subscribe('switchyard:attempt:start', onAttempt)
  diagnostics.subscribe('switchyard:request:end', onEnd)
  return {
    enabled: true,
    close() {
      diagnostics.unsubscribe('switchyard:request:start', onStart)
      diagnostics.unsubscribe('switchyard:attempt:start', onAttempt)
      diagnostics.unsubscribe('switchyard:request:end', onEnd)
    },
  }
}
