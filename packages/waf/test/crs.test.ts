import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waf } from '@switchyard/waf'
import { describe, expect, it, onTestFinished } from 'vitest'
import { DEBIAN_CRS } from './helpers/firewall.js'

const req = (url: string, headers: Record<string, string> = {}) => ({
  method: 'GET',
  url,
  protocol: 'HTTP/1.1',
  headers: Object.entries({ Host: 'shop.example', 'User-Agent': 'Mozilla/5.0', Accept: '*/*', ...headers }).flat(),
  remoteAddress: '192.0.2.1',
  remotePort: 5000,
})

describe("Debian's modsecurity-crs, loaded unmodified", () => {
  it('loads every request rule from /usr/share/modsecurity-crs with the setup from /etc/modsecurity/crs; lists what it cannot run', () => {
    const w = waf({ crs: DEBIAN_CRS })
    expect(w.ruleCount).toBeGreaterThan(400)
    // IP reputation by GeoIP database and DNS blocklist: never run here (see the README).
    expect(w.unsupported.map((u) => u.id).sort()).toEqual([910100, 910140])
  })

  it('blocks at paranoia level 1 and scores below the threshold without blocking', () => {
    const w = waf({ crs: DEBIAN_CRS })
    expect(w.inspect(req('/?id=1%27%20or%20%271%27%3D%271')).interruption?.id).toBe(949110)
    const clean = w.inspect(req('/products?page=2&q=blue%20shoes'))
    expect([clean.interruption, clean.score]).toEqual([undefined, 0])
  })

  it('paranoiaLevel turns on the stricter rules, anomalyThreshold moves the line', () => {
    // 920320: a request without User-Agent is a paranoia-level-2 notice (2 points).
    const noAgent = { ...req('/'), headers: ['Host', 'shop.example', 'Accept', '*/*'] }
    expect(waf({ crs: DEBIAN_CRS }).inspect(noAgent).matches.map((m) => m.id)).not.toContain(920320)
    expect(waf({ crs: DEBIAN_CRS, paranoiaLevel: 2 }).inspect(noAgent).matches.map((m) => m.id)).toContain(920320)
    const sqli = req('/?id=1%27%20or%20%271%27%3D%271')
    expect(waf({ crs: DEBIAN_CRS, anomalyThreshold: 1000 }).inspect(sqli).interruption).toBeUndefined()
  })

  it("reads its phrase files (@pmFromFile) from the install: a scanner's User-Agent", () => {
    const v = waf({ crs: DEBIAN_CRS }).inspect(req('/', { 'User-Agent': 'Nikto/2.1.6' }))
    expect(v.matches.map((m) => m.id)).toContain(913100)
  })

  it("the site's own exclusions (rules) remove a CRS rule, or a target of one, everywhere", () => {
    const sqli = req('/?id=1%27%20or%20%271%27%3D%271')
    const withRules = waf({ crs: DEBIAN_CRS, rules: 'SecRuleUpdateTargetById 942100 "!ARGS:id"\nSecRuleUpdateTargetById 942000-942999 "!ARGS:id"' })
    expect(withRules.inspect(sqli).matches.filter((m) => m.id >= 942000 && m.id < 943000)).toEqual([])
  })
})

describe('a CRS 4 release directory (crs-setup.conf.example + rules/)', () => {
  function release(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'crs4-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    mkdirSync(join(dir, 'rules'))
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
    return dir
  }

  it('loads crs-setup.conf.example, then rules/REQUEST-*.conf in order, with data files beside them; leaves out RESPONSE rules and the .example exclusions', () => {
    const dir = release({
      'crs-setup.conf.example': 'SecDefaultAction "phase:1,log,pass"\nSecDefaultAction "phase:2,log,pass"\nSecAction "id:900990,phase:1,pass,nolog,setvar:tx.crs_setup_version=400"',
      'rules/REQUEST-901-INITIALIZATION.conf': 'SecRule &TX:crs_setup_version "@eq 0" "id:901001,phase:1,deny"\nSecAction "id:901100,phase:1,pass,nolog,setvar:tx.inbound_anomaly_score_threshold=5"',
      'rules/REQUEST-913-SCANNER-DETECTION.conf': 'SecRule REQUEST_HEADERS:User-Agent "@pmFromFile scanners.data" "id:913100,phase:1,block,t:lowercase,setvar:tx.blocking_inbound_anomaly_score=+5"',
      'rules/scanners.data': '# scanners\nevilscan\n',
      'rules/REQUEST-949-BLOCKING-EVALUATION.conf': 'SecRule TX:BLOCKING_INBOUND_ANOMALY_SCORE "@ge %{tx.inbound_anomaly_score_threshold}" "id:949110,phase:2,deny"',
      'rules/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf.example': 'this is not SecLang and is not loaded',
      'rules/RESPONSE-950-DATA-LEAKAGES.conf': 'SecRule RESPONSE_BODY "@rx x" "id:950100,phase:4,deny"',
    })
    const w = waf({ crs: dir })
    expect(w.ruleCount).toBe(5) // the setup's SecAction and four rules
    expect(w.inspect(req('/')).interruption).toBeUndefined()
    expect(w.inspect(req('/', { 'User-Agent': 'EvilScan/1.0' })).interruption?.id).toBe(949110)
  })

  it('a directory that is not a CRS, or a CRS without its setup, is a typed error naming what is missing', () => {
    const empty = mkdtempSync(join(tmpdir(), 'nocrs-'))
    onTestFinished(() => rmSync(empty, { recursive: true, force: true }))
    expect(() => waf({ crs: empty })).toThrow(expect.objectContaining({ code: 'SWY_ERR_WAF_RULE', message: expect.stringMatching(/no REQUEST-\*\.conf/) }))
    const broken = release({ 'rules/REQUEST-901-INITIALIZATION.conf': 'SecRule ARGS "@rx (" "id:1,phase:1,deny"\nSecRule ARGS "@nope" "id:2"' })
    // No crs-setup.conf beside the rules: Debian's is used if there is one, else the error names the directory.
    try {
      waf({ crs: broken })
      throw new Error('loaded')
    } catch (err) {
      expect((err as { code: string }).code).toBe('SWY_ERR_WAF_RULE')
      expect((err as Error).message).toMatch(/REQUEST-901-INITIALIZATION\.conf:2: @nope|crs-setup/)
    }
  })
})
