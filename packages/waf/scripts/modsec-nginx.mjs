#!/usr/bin/env node
// The reference the WAF is measured against: nginx + libmodsecurity 3 + a CRS install, configured as
// ModSecurity's recommended configuration does (rule engine on, request bodies read, XML and JSON
// processors by Content-Type), proxying to a backend that answers 200. Started on a free loopback
// port; prints `port=<n>` and runs until killed.
//
//   apt-get install nginx libnginx-mod-http-modsecurity modsecurity-crs     (Debian 12)
//   node packages/waf/scripts/modsec-nginx.mjs --crs /usr/share/modsecurity-crs [--pl 1]
//
// With crs-corpus.mjs --target 127.0.0.1:<port>, the same corpus goes to both. Nothing here is
// used by the tests or the package: it exists to make the README's comparison repeatable.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const argv = process.argv.slice(2)
const args = Object.fromEntries(argv.flatMap((a, i) => (a.startsWith('--') ? [[a.slice(2), argv[i + 1]]] : [])))
const crs = args.crs ?? '/usr/share/modsecurity-crs'
const pl = Number(args.pl ?? 1)
const module = ['/usr/share/nginx/modules/ngx_http_modsecurity_module.so', '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so'].find(existsSync)
if (!module) {
  console.error('libnginx-mod-http-modsecurity is not installed')
  process.exit(2)
}
const freePort = () => new Promise((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => r(port)) }) })
const [port, backend] = [await freePort(), await freePort()]
const dir = mkdtempSync(join(tmpdir(), 'modsec-'))
const rulesDir = existsSync(join(crs, 'rules')) ? join(crs, 'rules') : crs
const setup = [join(crs, 'crs-setup.conf'), join(crs, 'crs-setup.conf.example'), '/etc/modsecurity/crs/crs-setup.conf'].find(existsSync)
const rules = readdirSync(rulesDir).filter((f) => /^(REQUEST|RESPONSE)-\d+.*\.conf$/.test(f) && !/-9(00|99)-/.test(f)).sort()
writeFileSync(join(dir, 'main.conf'), [
  'SecRuleEngine On',
  'SecRequestBodyAccess On',
  'SecRequestBodyLimit 13107200',
  'SecRequestBodyNoFilesLimit 1048576',
  'SecRequestBodyLimitAction Reject',
  'SecResponseBodyAccess Off',
  'SecArgumentSeparator &',
  'SecCookieFormat 0',
  'SecAuditEngine Off',
  'SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"',
  'SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"',
  `Include ${setup}`,
  `SecAction "id:99901,phase:1,pass,nolog,setvar:tx.paranoia_level=${pl},setvar:tx.blocking_paranoia_level=${pl},setvar:tx.detection_paranoia_level=${pl},setvar:tx.executing_paranoia_level=${pl}"`,
  ...rules.map((f) => `Include ${join(rulesDir, f)}`),
].join('\n'))
writeFileSync(join(dir, 'nginx.conf'), `
load_module ${module};
worker_processes 1;
daemon off;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  client_max_body_size 16m;
  server { listen 127.0.0.1:${backend}; location / { return 200 "ok"; } }
  server {
    listen 127.0.0.1:${port};
    modsecurity on;
    modsecurity_rules_file ${dir}/main.conf;
    location / { proxy_pass http://127.0.0.1:${backend}; }
  }
}`)
const nginx = spawn(existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'inherit' })
nginx.on('exit', (code) => process.exit(code ?? 0))
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => nginx.kill('SIGQUIT'))
console.log(`port=${port}`)
