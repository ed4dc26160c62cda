import diagnostics from 'node:diagnostics_channel'
import { createBalancer } from '@switchyard/core'
import { tracing } from '@switchyard/observe'
import { first } from '@switchyard/strategies'
import { fakeUpstream } from '@switchyard/testing'
import { propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'

const exporter = new InMemorySpanExporter()
beforeAll(() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
})
afterAll(() => {
  trace.disable()
  propagation.disable()
})

describe('tracing(): OpenTelemetry spans through node:diagnostics_channel', () => {
  it('makes a request span and a span per attempt, and sends the attempt’s traceparent upstream', async () => {
    exporter.reset()
    const a = await fakeUpstream({ name: 'a' })
    onTestFinished(() => a.close())
    const b = await fakeUpstream({ name: 'b' })
    onTestFinished(() => b.close())
    const lb = createBalancer({
      upstreams: [
        { id: 'a', url: a.url },
        { id: 'b', url: b.url },
      ],
      strategy: first(),
    })
    onTestFinished(() => lb.close())
    const t = await tracing()
    onTestFinished(() => t.close())
    expect(t.enabled).toBe(true)
    a.script('reset') // the first attempt fails, the retry goes to b
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const res = await request('http://svc/orders', { dispatcher: lb.dispatcher, headers: { traceparent: incoming } })
    await res.body.dump()
    await expect.poll(() => exporter.getFinishedSpans().length).toBe(3)
    const spans = exporter.getFinishedSpans()
    const root = spans.find((s) => s.kind === SpanKind.SERVER)!
    const attempts = spans.filter((s) => s.kind === SpanKind.CLIENT)
    expect(root.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c') // joined the client's trace
    expect(root.parentSpanContext?.spanId).toBe('b7ad6b7169203331')
    expect(root.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/orders', 'http.response.status_code': 200, 'switchyard.attempts': 2 })
    expect(attempts.map((s) => [s.attributes['switchyard.upstream'], s.status.code])).toEqual([
      ['a', SpanStatusCode.ERROR],
      ['b', SpanStatusCode.UNSET],
    ])
    for (const s of attempts) expect(s.parentSpanContext?.spanId).toBe(root.spanContext().spanId)
    // What b received: the traceparent of b's attempt span, not the client's.
    const sent = b.requests[0]!.headers.traceparent
    const bSpan = attempts[1]!
    expect(sent).toBe(`00-${bSpan.spanContext().traceId}-${bSpan.spanContext().spanId}-01`)
  })

  it('costs nothing when nobody subscribes: no message is built', async () => {
    const a = await fakeUpstream({ name: 'a' })
    onTestFinished(() => a.close())
    const lb = createBalancer({ upstreams: [a.url] })
    onTestFinished(() => lb.close())
    expect(diagnostics.channel('switchyard:attempt:start').hasSubscribers).toBe(false)
    await (await request('http://svc/', { dispatcher: lb.dispatcher })).body.dump()
    expect(a.requests[0]!.headers.traceparent).toBeUndefined()
    const seen: unknown[] = []
    const listener = (m: unknown) => seen.push(m)
    diagnostics.subscribe('switchyard:attempt:start', listener)
    onTestFinished(() => {
      diagnostics.unsubscribe('switchyard:attempt:start', listener)
    })
    await (await request('http://svc/', { dispatcher: lb.dispatcher })).body.dump()
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ upstream: a.url.replace(/\/$/, ''), attempt: 1, hedge: false })
  })
})
