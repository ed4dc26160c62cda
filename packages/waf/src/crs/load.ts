import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { WafRuleError } from '../errors.js'

/** One file of rules to load, in order. */
export interface RuleSource {
  readonly file: string
  readonly text: string
}

/** Where Debian's `modsecurity-crs` package keeps the files a site edits. */
export const DEBIAN_SETUP_DIR = '/etc/modsecurity/crs'

/**
 * The files of a CRS install, in the order ModSecurity's documentation loads them:
 *
 * 1. the setup: `crs-setup.conf` in the directory, else `crs-setup.conf.example` (a release as
 *    unpacked), else Debian's `/etc/modsecurity/crs/crs-setup.conf`;
 * 2. the site's exclusions before the CRS: `REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf`, beside
 *    the setup or in `rules/` (never the `.example`);
 * 3. the request rules, `rules/REQUEST-*.conf` by name (the response rules are not loaded:
 *    this engine inspects requests);
 * 4. the site's exclusions after the CRS: `RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf`, the same way.
 *
 * `dir` is the directory holding `rules/` (or `rules/` itself). A directory without request rules,
 * or without a setup, is a {@link WafRuleError} naming what is missing.
 */
export function crsSources(dir: string): RuleSource[] {
  const root = resolve(dir)
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new WafRuleError(`${root}: the CRS directory does not exist (install Debian's modsecurity-crs, or unpack a CRS release there)`, { file: root })
  const rulesDir = existsSync(join(root, 'rules')) ? join(root, 'rules') : root
  const base = rulesDir === root ? dirname(root) : root
  const ruleFiles = readdirSync(rulesDir)
    .filter((f) => /^REQUEST-\d+.*\.conf$/.test(f) && !f.startsWith('REQUEST-900-'))
    .sort()
  if (ruleFiles.length === 0) throw new WafRuleError(`${rulesDir}: no REQUEST-*.conf rule files here; is this a CRS install?`, { file: rulesDir })
  const setup = [join(base, 'crs-setup.conf'), join(base, 'crs-setup.conf.example'), join(DEBIAN_SETUP_DIR, 'crs-setup.conf')].find((f) => existsSync(f))
  if (setup === undefined) throw new WafRuleError(`${base}: no crs-setup.conf (or crs-setup.conf.example) beside the rules, nor in ${DEBIAN_SETUP_DIR}`, { file: base })
  const siteFile = (name: string) => [join(dirname(setup), name), join(rulesDir, name)].find((f) => existsSync(f))
  const files = [setup, siteFile('REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf'), ...ruleFiles.map((f) => join(rulesDir, f)), siteFile('RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf')]
  return files.filter((f): f is string => f !== undefined).map((file) => ({ file, text: read(file) }))
}

function read(file: string): string {
  try {
    return readFileSync(file, 'latin1')
  } catch (cause) {
    throw new WafRuleError(`${file}: cannot be read (${(cause as Error).message})`, { file, cause })
  }
}

/** A data file (`@pmFromFile name`) as ModSecurity finds it: relative to the file of the rule naming it. */
export function loadData(name: string, ruleFile: string): string {
  const path = isAbsolute(name) ? name : join(dirname(ruleFile), name)
  try {
    return readFileSync(path, 'latin1')
  } catch (cause) {
    throw new WafRuleError(`the data file ${path} cannot be read (${(cause as Error).message})`, { file: ruleFile, cause })
  }
}
