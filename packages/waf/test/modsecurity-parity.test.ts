import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ATTACKS, ORDINARY, REST, SQL_SNIPPET, type Sample } from './fixtures/traffic.js'
import { DEBIAN_CRS, firewalled, modsecurity, sendTo } from './helpers/firewall.js'

// The same requests, byte for byte, to this WAF and to nginx + ModSecurity 3 with the same CRS
// install (Debian's, unmodified) at paranoia level 1: it must block no ordinary request that
// ModSecurity lets through, and let through no attack that ModSecurity blocks.
describe('parity with nginx + ModSecurity + the CRS (Debian), paranoia level 1', () => {
  let reference: Awaited<ReturnType<typeof modsecurity>>
  beforeAll(async () => {
    reference = await modsecurity(DEBIAN_CRS, 1)
  }, 30_000)
  afterAll(async () => reference?.close())

  async function both(samples: readonly Sample[]) {
    const ours = await firewalled({ crs: DEBIAN_CRS })
    const rows: { name: string; ours: number; modsec: number }[] = []
    for (const s of samples) rows.push({ name: s.name, ours: await ours.send(s), modsec: await sendTo(reference.url, s) })
    return rows
  }

  it('ordinary traffic (searches with apostrophes and SQL words, JSON rich text, markdown, code, forms, uploads, XML): nothing blocked that ModSecurity lets through', async () => {
    const rows = await both(ORDINARY)
    expect(rows.filter((r) => r.ours !== 200 && r.modsec === 200)).toEqual([])
    // What both refuse (see the fixture): the same two, and no more.
    expect(rows.filter((r) => r.ours !== 200).map((r) => r.name)).toEqual(['search: what is <html>', 'markdown in JSON'])
    expect(rows.filter((r) => r.modsec !== 200).map((r) => r.name)).toEqual(['search: what is <html>', 'markdown in JSON'])
  })

  it('REST methods beyond the CRS default allowed_methods: refused by both, until the site allows them', async () => {
    const rows = await both(REST)
    expect(rows.map((r) => [r.ours, r.modsec])).toEqual(REST.map(() => [403, 403]))
    const allowing = await firewalled({ crs: DEBIAN_CRS, rules: 'SecAction "id:99910,phase:1,pass,nolog,setvar:\'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE\'"' })
    for (const s of REST) expect(await allowing.send(s), s.name).toBe(200)
  })

  it('attacks in the query, path, headers, cookies and every kind of body: blocked by both', async () => {
    const rows = await both(ATTACKS)
    expect(rows.filter((r) => r.modsec === 403 && r.ours !== 403)).toEqual([])
    expect(rows.filter((r) => r.ours !== 403)).toEqual([])
  })

  it('SQL in a code snippet: refused by both; one exclusion lets that field through, and only that field', async () => {
    const [row] = await both([SQL_SNIPPET])
    expect([row!.ours, row!.modsec]).toEqual([403, 403])
    const excluded = await firewalled({ crs: DEBIAN_CRS, exclusions: [{ path: '/api/snippets', target: 'ARGS:json.code' }] })
    expect(await excluded.send(SQL_SNIPPET)).toBe(200)
    const elsewhere = { ...SQL_SNIPPET, path: '/api/comments' }
    expect(await excluded.send(elsewhere)).toBe(403)
  })
})
