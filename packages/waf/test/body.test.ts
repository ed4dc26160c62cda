import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseBody, processorFor } from '../src/body/index.js'
import { JSON_DEPTH_LIMIT, parseJson } from '../src/body/json.js'
import { scanJson } from '../src/body/json-scan.js'
import { parseMultipart } from '../src/body/multipart.js'
import { parseUrlencoded } from '../src/body/urlencoded.js'
import { parseXml } from '../src/body/xml.js'

describe('body processors', () => {
  it('picks the processor by Content-Type, as ModSecurity\'s recommended configuration does', () => {
    expect(processorFor('application/x-www-form-urlencoded; charset=utf-8')).toBe('URLENCODED')
    expect(processorFor('multipart/form-data; boundary=x')).toBe('MULTIPART')
    expect(processorFor('application/json')).toBe('JSON')
    expect(processorFor('application/vnd.api+json')).toBe('JSON')
    expect(processorFor('text/xml')).toBe('XML')
    expect(processorFor('application/soap+xml')).toBe('XML')
    expect(processorFor('text/plain')).toBeUndefined()
    expect(processorFor(undefined)).toBeUndefined()
  })

  it('urlencoded: & separates, + is a space, %XX decoded, a bad escape kept, a bare name has an empty value', () => {
    expect(parseUrlencoded('a=1&b=x+y&c=%3Cb%3E&d=%zz&e&&f=')).toEqual([
      ['a', '1'],
      ['b', 'x y'],
      ['c', '<b>'],
      ['d', '%zz'],
      ['e', ''],
      ['f', ''],
    ])
  })

  it("JSON: ModSecurity's json.a.b names, array items by index, scalars as text, UTF-8 as bytes", () => {
    const body = Buffer.from(JSON.stringify({ a: { b: 1, c: [true, null, 'x'] }, 'é': 'ü' }), 'utf8').toString('latin1')
    expect(parseJson(body)).toEqual({
      args: [
        ['json.a.b', '1'],
        ['json.a.c.0', 'true'],
        ['json.a.c.1', ''],
        ['json.a.c.2', 'x'],
        ['json.\xc3\xa9', '\xc3\xbc'],
      ],
      error: undefined,
    })
    // An ASCII body whose escapes make chars past ASCII: those are UTF-8 bytes too, names and values.
    expect(parseJson('{"\\u00e9":"\\u00fc","b":"\\u0041"}').args).toEqual([
      ['json.\xc3\xa9', '\xc3\xbc'],
      ['json.b', 'A'],
    ])
  })

  it('JSON: a body that does not parse, or nests too deep, is a body error (what was read is kept)', () => {
    expect(parseJson('{"a":').error).toMatch(/does not parse/)
    const deep = `${'['.repeat(JSON_DEPTH_LIMIT + 5)}1${']'.repeat(JSON_DEPTH_LIMIT + 5)}`
    expect(parseJson(deep).error).toMatch(/deeper than/)
    // Very deep input is walked without recursion: no stack overflow.
    const deeper = `${'['.repeat(5000)}${']'.repeat(5000)}`
    expect(() => parseJson(deeper)).not.toThrow()
  })

  it('XML: the text of the document (XML:/*) and every attribute value (XML://@*), entities and CDATA decoded', () => {
    const x = parseXml('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "v">]><r a="1 &lt; 2"><b c=\'x\'>hi &amp; bye</b><![CDATA[<raw>]]><!-- c --></r>')
    expect(x).toEqual({ text: 'hi & bye<raw>', attributes: ['1 < 2', 'x'], error: undefined })
    expect(parseXml('<a><b></a>').error).toMatch(/closes/)
    expect(parseXml('<a>text').error).toMatch(/does not close/)
  })

  it('multipart: fields as arguments, files by name and filename, part headers kept, a missing closing boundary an error', () => {
    const body = '--B\r\nContent-Disposition: form-data; name="title"\r\n\r\nHello\r\n--B\r\nContent-Disposition: form-data; name="up"; filename="a b.php"\r\nContent-Type: text/plain\r\n\r\n<?php ?>\r\n--B--\r\n'
    const parsed = parseBody('MULTIPART', body, 'multipart/form-data; boundary=B')
    expect(parsed.args).toEqual([['title', 'Hello']])
    expect(parsed.files).toEqual([{ name: 'up', filename: 'a b.php', size: 8 }])
    expect(parsed.partHeaders).toEqual([
      ['title', 'Content-Disposition: form-data; name="title"'],
      ['up', 'Content-Disposition: form-data; name="up"; filename="a b.php"'],
      ['up', 'Content-Type: text/plain'],
    ])
    expect(parsed.error).toBeUndefined()
    expect(parseMultipart('--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx', 'multipart/form-data; boundary=B').error).toMatch(/closing boundary/)
    expect(parseMultipart('x', 'multipart/form-data').error).toMatch(/no boundary/)
    // A backslash in a name stays (a CRS rule looks for it); only an escaped quote is unescaped.
    expect(parseMultipart('--B\r\nContent-Disposition: form-data; name="a\\d\\"q"\r\n\r\nx\r\n--B--', 'multipart/form-data; boundary=B').parts[0]!.name).toBe('a\\d"q')
  })
})

describe('JSON bodies, property-tested', () => {
  // What a JSON body's arguments must be: each string (names too) as its UTF-8 bytes, numbers and
  // booleans as text, null as empty; written here the plain way, without parseJson's shortcuts.
  const expected = (v: unknown, name = 'json', out: [string, string][] = []): [string, string][] => {
    const bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1')
    if (v === null || typeof v !== 'object') out.push([name, v === null ? '' : bytes(String(v))])
    else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) expected(v[i], `${name}.${i}`, out)
    else for (const k of Object.keys(v)) expected((v as Record<string, unknown>)[k], `${name}.${bytes(k)}`, out)
    return out
  }
  // The same document three ways: as UTF-8 bytes, with every char past ASCII as a \u escape
  // (ASCII bytes, escapes to read), and as it is when it is ASCII already (no escape at all).
  const escaped = (json: string) => json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  it('gives every name and value as UTF-8 bytes, whichever way the document is written', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: fc.constantFrom('a', 'é', '\u4e2d', '😀', '\\', '"', '\n', '7', '.', ' ', '\ud800') }), (v) => {
        const json = JSON.stringify(v)
        const want = expected(JSON.parse(json))
        expect(parseJson(Buffer.from(json, 'utf8').toString('latin1')).args).toEqual(want)
        expect(parseJson(escaped(json)).args).toEqual(want)
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300), seed: Number(process.env.FUZZ_SEED ?? 25) },
    )
  })
})

describe('JSON bodies read in one pass (body/json-scan.ts)', () => {
  // What JSON.parse and the walk give (the test's own reading, above), for a document it parses.
  const parsed = (text: string): [string, string][] | 'error' => {
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch {
      return 'error'
    }
    const out: [string, string][] = []
    const walk = (x: unknown, name: string): void => {
      if (x === null || typeof x !== 'object') out.push([name, x === null ? '' : String(x)])
      else if (Array.isArray(x)) for (let i = 0; i < x.length; i++) walk(x[i], `${name}.${i}`)
      else for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], `${name}.${k}`)
    }
    walk(v, 'json')
    return out
  }

  it('reads a common body itself, and gives what JSON.parse would, whatever its spacing', () => {
    const ascii = fc.constantFrom('a', 'B', '7', '.', ' ', '-', '_', '<', "'", '/')
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: ascii }), fc.constantFrom(undefined, 0, 2, '\t'), (v, indent) => {
        const text = JSON.stringify(v, null, indent)
        const scanned = scanJson(text)
        expect(scanned ?? parsed(text)).toEqual(parsed(text))
        // Only a member name starting with a digit sends such a document to JSON.parse.
        if (!/"\d[^"]*":/.test(text)) expect(scanned).toBeDefined()
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300), seed: Number(process.env.FUZZ_SEED ?? 28) },
    )
  })

  it('on any text made of JSON tokens, gives what JSON.parse would, or leaves it to JSON.parse', () => {
    // Names twice, index-like names, numbers in every form, escapes, bytes past ASCII, broken documents.
    const token = fc.constantFrom('{', '}', '[', ']', ',', ':', ' ', '\n', '"a"', '"b"', '"1"', '""', '"x\\"y"', '"\\u00e9"', '"\xc3\xa9"', '"\t"', '0', '-0', '7', '-12', '1.50', '2e3', '1E+2', '3e-1', '01', '.5', '1.', '12345678901234567890', 'true', 'false', 'null', 'nul', '"', '\\')
    fc.assert(
      fc.property(fc.array(token, { maxLength: 24 }), (tokens) => {
        const text = tokens.join('')
        const scanned = scanJson(text)
        if (scanned !== undefined) expect(scanned).toEqual(parsed(text))
        // And parseJson as a whole agrees with JSON.parse on what it reads, ASCII or not.
        const want = parsed(text)
        if (want === 'error') expect(parseJson(text).error).toMatch(/does not parse/)
        else if (!/[\x80-\xff\\]/.test(text)) expect(parseJson(text).args).toEqual(want)
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000), seed: Number(process.env.FUZZ_SEED ?? 29) },
    )
  })

  it('reads names twice and index-like names as JSON.parse does (by leaving them to it)', () => {
    expect(scanJson('{"a":1,"a":2}')).toBeUndefined()
    expect(parseJson('{"a":1,"b":3,"a":2}').args).toEqual([['json.a', '2'], ['json.b', '3']])
    expect(scanJson('{"b":1,"2":2}')).toBeUndefined()
    expect(parseJson('{"b":1,"2":2}').args).toEqual([['json.2', '2'], ['json.b', '1']])
    expect(scanJson(' {"n":[1.0, -0, 1e2, 120, 9007199254740993], "t":true, "z":null, "s":"x y"} ')).toEqual([
      ['json.n.0', '1'],
      ['json.n.1', '0'],
      ['json.n.2', '100'],
      ['json.n.3', '120'],
      ['json.n.4', '9007199254740992'],
      ['json.t', 'true'],
      ['json.z', ''],
      ['json.s', 'x y'],
    ])
  })
})
