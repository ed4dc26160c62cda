import { createBalancer } from '@switchyard/core'
import express from 'express'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { deadPort, fakeUpstream, inOrder } from '@switchyard/testing'
import { listenApp } from './helpers/app.js'

/** An Express app with `parser` before `lb.handler`, and an upstream that echoes what it got. */
async function app(parser: express.RequestHandler, upstreams?: string[]) {
  const echo = await fakeUpstream({
    handler: (req, res, self) => {
      const got = self.requests.at(-1)!
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ body: got.body.toString(), length: got.headers['content-length'] ?? null, type: req.headers['content-type'] ?? null }))
    },
  })
  const lb = createBalancer({ upstreams: upstreams ?? [echo.url], strategy: inOrder() })
  return { echo, lb, url: await listenApp(express().use(parser).use(lb.handler), lb) }
}

async function post(url: string, type: string, body: string) {
  const res = await request(url, { method: 'POST', headers: { 'content-type': type }, body })
  return { status: res.statusCode, json: (await res.body.json()) as { body: string; length: string | null; code?: string } }
}

describe('a body already read by a parser is sent upstream, never an empty one', () => {
  it('express.json(): the object as JSON, with its Content-Length', async () => {
    const { url } = await app(express.json())
    const res = await post(url, 'application/json', '{ "name": "Ada",  "tags": ["x", "y"] }')
    expect(res.status).toBe(200)
    expect(JSON.parse(res.json.body)).toEqual({ name: 'Ada', tags: ['x', 'y'] })
    expect(Number(res.json.length)).toBe(Buffer.byteLength(res.json.body))
  })

  it('express.urlencoded({ extended: true }): nested fields in bracket notation', async () => {
    const { url } = await app(express.urlencoded({ extended: true }))
    const res = await post(url, 'application/x-www-form-urlencoded', 'user[name]=Ada&user[langs][]=en&user[langs][]=fr&ok=1')
    expect(res.status).toBe(200)
    const form = new URLSearchParams(res.json.body)
    expect(form.get('user[name]')).toBe('Ada')
    expect(form.getAll('user[langs]')).toEqual(['en', 'fr'])
    expect(form.get('ok')).toBe('1')
  })

  it('express.urlencoded({ extended: false }): a flat form', async () => {
    const { url } = await app(express.urlencoded({ extended: false }))
    const res = await post(url, 'application/x-www-form-urlencoded', 'a=1&b=two+words&a=3')
    expect(new URLSearchParams(res.json.body).getAll('a')).toEqual(['1', '3'])
    expect(new URLSearchParams(res.json.body).get('b')).toBe('two words')
  })

  it('express.raw() and express.text(): the bytes and the string as they came', async () => {
    const raw = await app(express.raw({ type: 'application/octet-stream' }))
    expect((await post(raw.url, 'application/octet-stream', 'bytes\u00e9')).json.body).toBe('bytes\u00e9')
    const text = await app(express.text())
    expect((await post(text.url, 'text/plain', 'plain text')).json.body).toBe('plain text')
  })

  it('a parsed body is replayable: a POST that never reached a dead upstream goes to the next with its body', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`
    const echo = await fakeUpstream({ handler: (_req, res, self) => res.end(self.requests.at(-1)!.body) })
    const { url } = await app(express.json(), [dead, echo.url])
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"order":1}' })
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('{"order":1}')
  })

  it('a body read with nothing left in req.body: 500 SWY_ERR_BODY_CONSUMED, no upstream asked', async () => {
    const drain: express.RequestHandler = (req, _res, next) => {
      req.on('data', () => {})
      req.on('end', () => next())
    }
    const { url, echo } = await app(drain)
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
    expect(res.statusCode).toBe(500)
    expect(((await res.body.json()) as { code: string }).code).toBe('SWY_ERR_BODY_CONSUMED')
    expect(echo.hits).toBe(0)
  })

  it('a request the parser skipped (another content type) still streams', async () => {
    const { url } = await app(express.json())
    const res = await post(url, 'text/csv', 'a,b\n1,2\n')
    expect(res.json.body).toBe('a,b\n1,2\n')
  })
})
