import { detectSQLi } from './detect-sqli.js'
import { detectXSS } from './detect-xss.js'
import { ipMatch, ipMatchFromFile } from './ip-match.js'
import { eq, ge, gt, le, lt } from './numbers.js'
import { pm, pmFromFile } from './pm.js'
import { rx } from './rx.js'
import { beginsWith, contains, containsWord, endsWith, streq, strmatch, within } from './strings.js'
import type { OperatorFactory } from './types.js'
import { noMatch, unconditionalMatch } from './unconditional.js'
import { validateByteRange } from './validate-byte-range.js'
import { validateUrlEncoding } from './validate-url-encoding.js'
import { validateUtf8Encoding } from './validate-utf8-encoding.js'

export type { Operator, OperatorFactory, OperatorScope } from './types.js'

/** Every operator the engine runs, by its SecLang name in lower case (`@pmf` and `@ipMatchF` are the short forms). */
export const OPERATORS: ReadonlyMap<string, OperatorFactory> = new Map<string, OperatorFactory>([
  ['rx', rx],
  ['pm', pm],
  ['pmfromfile', pmFromFile],
  ['pmf', pmFromFile],
  ['streq', streq],
  ['contains', contains],
  ['containsword', containsWord],
  ['beginswith', beginsWith],
  ['endswith', endsWith],
  ['within', within],
  ['strmatch', strmatch],
  ['eq', eq],
  ['ge', ge],
  ['gt', gt],
  ['le', le],
  ['lt', lt],
  ['validatebyterange', validateByteRange],
  ['validateurlencoding', validateUrlEncoding],
  ['validateutf8encoding', validateUtf8Encoding],
  ['detectsqli', detectSQLi],
  ['detectxss', detectXSS],
  ['ipmatch', ipMatch],
  ['ipmatchfromfile', ipMatchFromFile],
  ['ipmatchf', ipMatchFromFile],
  ['unconditionalmatch', unconditionalMatch],
  ['nomatch', noMatch],
])

/**
 * Operators SecLang has that this engine does not run, and why: they ask a network service, a
 * database or a file on disk, none of which a request inspection should wait on. A rule using one
 * is listed by `waf().unsupported` and never matches.
 */
export const UNSUPPORTED_OPERATORS: ReadonlyMap<string, string> = new Map([
  ['rbl', 'a DNS blocklist lookup per request'],
  ['geolookup', 'a GeoIP database'],
  ['gsblookup', 'Google Safe Browsing'],
  ['inspectfile', 'runs an external program on uploads'],
  ['fuzzyhash', 'ssdeep hashes of uploads'],
  ['validatedtd', 'XML validation against a DTD file'],
  ['validateschema', 'XML validation against a schema file'],
  ['validatehash', 'response hashing (not a request rule)'],
  ['verifycc', 'credit card numbers (response rules)'],
  ['verifycpf', 'Brazilian CPF numbers (response rules)'],
  ['verifyssn', 'US SSNs (response rules)'],
  ['verifysvnr', 'Austrian SVNRs (response rules)'],
])
