import type { FilterRule } from './request-filter.js'

/**
 * The starter rules (`requestFilter({ starter: true })`): common SQL injection and XSS probes as
 * scanners and copy-pasted exploits send them in the path and the query, matched on the decoded
 * text. Each is tested against its probes and against realistic benign requests
 * (packages/guard/test/request-filter.test.ts). They raise the bar; they do not replace
 * parameterized queries and output encoding.
 */
const sql = {
  // `UNION SELECT` / `UNION ALL SELECT`: the classic data-extraction probe.
  union: /\bunion\s+(all\s+)?select\b/i,
  // A quote closing a string, then OR/AND and a comparison: `' OR '1'='1`, `" or 1=1`.
  tautology: /['"]\s*(or|and)\s+['"]?[\w-]*['"]?\s*(=|<|>|like\b)/i,
  // A quote closing a string, then a comment that cuts off the rest: `admin'--`, `x'#`, `x'/*`.
  comment: /['"]\s*(--|#|\/\*)/,
  // A statement stacked after `;`: `1; DROP TABLE users`.
  stacked: /;\s*(drop|delete|insert|update|alter|create|exec|truncate)\s+\w/i,
  // Time-based blind probes: `SLEEP(5)`, `pg_sleep(5)`, `BENCHMARK(…)`, `WAITFOR DELAY`.
  timing: /\b(sleep|pg_sleep|benchmark)\s*\(|\bwaitfor\s+delay\b/i,
}

const xss = {
  // A script element, opening tag: `<script>`, `< script src=…>`.
  script: /<\s*script\b/i,
  // An event handler attribute in a tag: `<img src=x onerror=…>`, `<svg/onload=…>`.
  handler: /<[^>]*[\s/"']on[a-z]+\s*=/i,
  // A javascript: URL: `javascript:alert(1)` (also with spaces or a tab before the colon).
  jsUrl: /\bjavascript\s*:/i,
  // Other elements that run script or load documents: `<iframe`, `<object`, `<embed`.
  embed: /<\s*(iframe|object|embed)\b/i,
}

const both = (name: string, re: RegExp): FilterRule[] => [
  { name: `${name} (path)`, denyPath: re },
  { name: `${name} (query)`, denyQuery: re },
]

export const STARTER_RULES: readonly FilterRule[] = Object.freeze([
  ...both('sql-union', sql.union),
  ...both('sql-tautology', sql.tautology),
  ...both('sql-comment', sql.comment),
  ...both('sql-stacked', sql.stacked),
  ...both('sql-timing', sql.timing),
  ...both('xss-script', xss.script),
  ...both('xss-handler', xss.handler),
  ...both('xss-javascript-url', xss.jsUrl),
  ...both('xss-embed', xss.embed),
])
