#!/usr/bin/env node
// Runs the CRS's own regression corpus (its go-ftw YAML tests) against @switchyard/waf, byte for
// byte over loopback sockets, and reports per rule file how many of the attacks it blocks.
//
//   pnpm --filter @switchyard/waf build
//   node packages/waf/scripts/crs-corpus.mjs --crs <CRS checkout> [--pl 1] [--files 913-944] [--json out.json]
//
// The corpus is read from <CRS checkout>/tests/regression/tests and the rules from the same
// checkout; nothing of it is kept in this repository. An attack is a test whose expect_ids name a
// rule of the file under test at a paranoia level up to --pl (the rule's `paranoia-level/N` tag);
// it is blocked when the answer is 403 (the WAF) — a 400 from Node's HTTP parser, which refuses a
// malformed request before any middleware, is counted apart. Tests that expect no rule to fire
// and name rules that must not fire (no_expect_ids) are the false-positive check: "clean a/b" is
// how many of them kept those rules quiet.
//
// Like go-ftw with autocomplete_headers (its default), a request with data gets Content-Length and,
// without a Content-Type, `application/x-www-form-urlencoded`; every request gets Connection: close.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { parse } from 'yaml'
import { waf } from '../dist/index.js'

const argv = process.argv.slice(2)
const args = Object.fromEntries(argv.flatMap((a, i) => (a.startsWith('--') ? [[a.slice(2), argv[i + 1]]] : [])))
const crs = args.crs ?? process.env.CRS_DIR
if (!crs) {
  console.error('usage: crs-corpus.mjs --crs <CRS checkout with tests/regression/tests> [--pl 1] [--files 913-944]')
  process.exit(2)
}
const pl = Number(args.pl ?? 1)
const show = new Set((args.show ?? '').split(',').filter(Boolean))
const [lo, hi] = (args.files ?? '913-944').split('-').map(Number)

// Each rule's paranoia level, from its tags.
const levelOf = new Map()
const fileOf = new Map()
for (const f of readdirSync(join(crs, 'rules')).filter((f) => /^REQUEST-\d+.*\.conf$/.test(f))) {
  const text = readFileSync(join(crs, 'rules', f), 'latin1').replace(/\\\r?\n/g, ' ')
  for (const m of text.matchAll(/"id:(\d+),([^"]*)"/g)) {
    const level = /paranoia-level\/(\d)/.exec(m[2])
    levelOf.set(Number(m[1]), level ? Number(level[1]) : 1)
    fileOf.set(Number(m[1]), f)
  }
}

const reports = []
// --rules: more SecLang (e.g. `SecRuleRemoveById 942100` to see what a rule adds).
const firewall = waf({ crs, paranoiaLevel: pl, onMatch: (r) => reports.push(r), ...(args.rules ? { rules: args.rules } : {}) })
const server = createServer((req, res) => firewall(req, res, (err) => { res.statusCode = err ? 500 : 200; res.end('ok') }))
await new Promise((r) => server.listen(0, '127.0.0.1', r))
// --target host:port sends the corpus to another system instead (modsec-nginx.mjs), by status only.
const [host, port] = args.target ? [args.target.split(':')[0], Number(args.target.split(':')[1])] : ['127.0.0.1', server.address().port]

function rawRequest(input) {
  if (input.encoded_request) return Buffer.from(input.encoded_request, 'base64')
  const method = input.method ?? 'GET'
  const uri = input.uri ?? '/'
  const version = input.version ?? 'HTTP/1.1'
  const headers = { ...(input.headers ?? {}) }
  const has = (n) => Object.keys(headers).some((k) => k.toLowerCase() === n)
  const data = input.data === undefined || input.data === null ? undefined : Buffer.from(String(input.data), 'latin1')
  if (input.autocomplete_headers !== false) {
    if (data !== undefined && !has('content-length') && !has('transfer-encoding')) headers['Content-Length'] = String(data.length)
    if (data !== undefined && !has('content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded'
    if (!has('connection')) headers.Connection = 'close'
  }
  let head = version === '' ? `${method} ${uri}\r\n` : `${method} ${uri} ${version}\r\n`
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), data ?? Buffer.alloc(0)])
}

function send(bytes) {
  return new Promise((resolve) => {
    const socket = connect(port, host)
    let got = ''
    const timer = setTimeout(() => socket.destroy(), 5_000)
    socket.on('data', (d) => { got += d.toString('latin1') })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got)
      resolve(m ? Number(m[1]) : 0)
    })
    socket.end(bytes)
  })
}

const testsDir = join(crs, 'tests', 'regression', 'tests')
const results = []
const rows = []
const totals = { attacks: 0, detected: 0, blocked: 0, parser: 0, clean: 0, cleanBlocked: 0 }
for (const dir of readdirSync(testsDir).filter((d) => /^REQUEST-(\d+)/.test(d)).sort()) {
  const n = Number(/^REQUEST-(\d+)/.exec(dir)[1])
  if (n < lo || n > hi) continue
  const row = { file: dir, attacks: 0, detected: 0, blocked: 0, parser: 0, missed: [], clean: 0, cleanBlocked: 0, falsePositives: [] }
  for (const f of readdirSync(join(testsDir, dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    const doc = parse(readFileSync(join(testsDir, dir, f), 'utf8'))
    for (const test of doc?.tests ?? []) {
      for (const stage of test.stages ?? []) {
        const input = stage.input ?? stage.stage?.input
        const output = stage.output ?? stage.stage?.output ?? {}
        if (!input) continue
        const expect = output.log?.expect_ids ?? (output.log_contains ? [] : undefined) ?? []
        const own = expect.filter((id) => fileOf.get(id)?.startsWith(dir.slice(0, 11)))
        const attack = own.some((id) => (levelOf.get(id) ?? 99) <= pl)
        const clean = expect.length === 0 && (output.log?.no_expect_ids?.length ?? 0) > 0
        if (!attack && !clean) continue
        const before = reports.length
        const bytes = rawRequest(input)
        const status = await send(bytes)
        const fired = new Set(reports.slice(before).flatMap((r) => r.matches.map((m) => m.id)))
        const name = `${doc.rule_id}-${test.test_id}`
        results.push({ name, status, attack, expect: own, fired: [...fired] })
        if (show.has(name)) console.log(`== ${name} ${status}\n${bytes.toString('latin1').slice(0, 600)}\n-- expect ${JSON.stringify(output.log)}\n-- fired ${[...fired].join(' ')} score ${reports.slice(before).map((r) => r.score).join(',')}`)
        if (attack) {
          row.attacks++
          if (own.some((id) => fired.has(id))) row.detected++
          if (status === 403) row.blocked++
          else if (status === 400) row.parser++
          else row.missed.push(name)
        } else {
          row.clean++
          if (output.log.no_expect_ids.some((id) => fired.has(id))) {
            row.cleanBlocked++
            row.falsePositives.push(name)
          }
        }
      }
    }
  }
  rows.push(row)
  for (const k of Object.keys(totals)) totals[k] += row[k]
}
server.close()

const pct = (a, b) => (b === 0 ? '   -  ' : `${((100 * a) / b).toFixed(1).padStart(5)}%`)
console.log(`CRS corpus at paranoia level ${pl}, files ${lo}-${hi}: attacks, the rule expected fired, blocked (403), refused by Node's parser (400), missed`)
for (const r of rows) console.log(`${r.file.padEnd(48)} ${String(r.attacks).padStart(5)} ${pct(r.detected, r.attacks)} ${pct(r.blocked, r.attacks)} ${String(r.parser).padStart(3)} parser  ${String(r.missed.length).padStart(3)} missed  clean ${r.clean - r.cleanBlocked}/${r.clean}`)
console.log(`${'total'.padEnd(48)} ${String(totals.attacks).padStart(5)} ${pct(totals.detected, totals.attacks)} ${pct(totals.blocked, totals.attacks)} ${String(totals.parser).padStart(3)} parser  blocked or refused ${pct(totals.blocked + totals.parser, totals.attacks)}  clean ${totals.clean - totals.cleanBlocked}/${totals.clean}`)
if (args.json) writeFileSync(args.json, JSON.stringify({ pl, rows, totals, results }, null, 2))
if (args.missed) for (const r of rows) if (r.missed.length) console.log(r.file, r.missed.join(' '))
if (args.missed) for (const r of rows) if (r.falsePositives.length) console.log('fired where it should not:', r.file, r.falsePositives.join(' '))
