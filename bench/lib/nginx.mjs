// nginx with the same upstream block, configured well (the issue's reference row): one worker,
// upstream keepalive 1024, keepalive_requests 1000000, HTTP/1.1 to the upstreams.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { BIG, CACHEABLE, SMALL, TEXT } from './bodies.mjs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hasCommand } from './load.mjs'

export function nginxBinary() {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (hasCommand(p)) return p
  }
  return hasCommand('nginx') ? 'nginx' : undefined
}

/** Installs nginx from Debian's packages when missing and allowed (root with apt-get). */
export function ensureNginx() {
  if (nginxBinary()) return nginxBinary()
  if (process.getuid?.() === 0 && hasCommand('apt-get')) {
    try {
      execFileSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq nginx'], { stdio: 'ignore' })
    } catch {}
  }
  const bin = nginxBinary()
  if (!bin) console.warn('nginx is not installed: run `apt-get install -y nginx` (as root) to include it.')
  return bin
}

/** `nginx/1.22.1`: nginx prints its version on stderr. */
export function nginxVersion(bin) {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' })
  return `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().replace('nginx version: ', '') || 'nginx'
}

/**
 * Writes a config; returns the args to start nginx in the foreground: one process by default, a
 * master and `workers` worker processes when asked (the multi-core comparison). `cache` turns on
 * `proxy_cache` (keys in a 10 MB zone, bodies in files the page cache keeps hot; freshness from the
 * upstream's Cache-Control); `gzip` (a level) turns on gzip for JSON of 1 KiB or more.
 */
export function nginxArgs({ port, upstreams, leastConn = false, workers = 1, modsecurity, cache = false, gzip }) {
  const dir = join(tmpdir(), `switchyard-nginx-${port}`)
  mkdirSync(join(dir, 'logs'), { recursive: true })
  const modsec = modsecurity === undefined ? '' : modsecurityConfig(dir, modsecurity)
  const servers = upstreams.map((u) => `    server ${new URL(u).host};`).join('\n')
  writeFileSync(
    join(dir, 'nginx.conf'),
    `${modsec === '' ? '' : `load_module ${MODSEC_MODULE};\n`}daemon off;
master_process ${workers > 1 ? 'on' : 'off'};
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log stderr error;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
${cache ? `  proxy_cache_path ${dir}/cache keys_zone=bench:10m max_size=100m;\n` : ''}${gzip === undefined ? '' : `  gzip on;\n  gzip_comp_level ${gzip};\n  gzip_types application/json;\n  gzip_min_length 1024;\n  gzip_proxied any;\n  gzip_vary on;\n`}  upstream backend {
${leastConn ? '    least_conn;\n' : ''}${servers}
    keepalive 1024;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    client_max_body_size 16m;
${modsec}    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
${cache ? '      proxy_cache bench;\n      add_header X-Cache $upstream_cache_status;\n' : ''}    }
  }
}
`,
  )
  return ['-p', dir, '-c', join(dir, 'nginx.conf')]
}

/** libnginx-mod-http-modsecurity's module (Debian), if installed. */
export const MODSEC_MODULE = ['/usr/share/nginx/modules/ngx_http_modsecurity_module.so', '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so'].find((f) => existsSync(f))

/**
 * ModSecurity 3 with the CRS at `crs` (Debian's layout: rules there, setup in /etc/modsecurity/crs),
 * configured as its recommended configuration does (engine on, request bodies read, XML and JSON
 * processors by Content-Type): the reference the WAF rows are measured against.
 */
function modsecurityConfig(dir, { crs }) {
  const rules = readdirSync(join(crs, 'rules')).filter((f) => /^(REQUEST|RESPONSE)-\d+.*\.conf$/.test(f)).sort()
  const setup = [join(crs, 'crs-setup.conf'), '/etc/modsecurity/crs/crs-setup.conf'].find((f) => existsSync(f))
  writeFileSync(
    join(dir, 'modsec.conf'),
    [
      'SecRuleEngine On',
      'SecRequestBodyAccess On',
      'SecRequestBodyLimit 13107200',
      'SecRequestBodyNoFilesLimit 1048576',
      'SecResponseBodyAccess Off',
      'SecAuditEngine Off',
      'SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"',
      'SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"',
      `Include ${setup}`,
      ...rules.map((f) => `Include ${join(crs, 'rules', f)}`),
    ].join('\n'),
  )
  return `    modsecurity on;\n    modsecurity_rules_file ${dir}/modsec.conf;\n`
}

/**
 * The benchmark's plain backends as nginx serves them (one worker, static answers): what
 * backends.mjs answers (bodies.mjs), at a fraction of a Node server's cost per request, so the
 * backends and the load generator sharing one core never set the pace of the proxy under test.
 * Every port gets the same answers: `/` (any method; an upload's body is read and dropped)
 * the hello-world JSON, `/64k`, `/cached` (cacheable for an hour), `/text` (16 KiB of JSON).
 */
export function nginxBackendArgs({ ports }) {
  const dir = join(tmpdir(), `switchyard-nginx-backends-${ports.join('-')}`)
  mkdirSync(join(dir, 'logs'), { recursive: true })
  mkdirSync(join(dir, 'files'), { recursive: true })
  writeFileSync(join(dir, 'files', '64k'), BIG)
  writeFileSync(join(dir, 'files', 'text'), TEXT)
  const small = SMALL.toString().replace(/'/g, "\\'")
  const server = (port) => `  server {
    listen 127.0.0.1:${port} backlog=4096;
    default_type application/json;
    location = /64k { alias ${dir}/files/64k; }
    location = /text { alias ${dir}/files/text; }
    location = /cached { add_header Cache-Control "${CACHEABLE['cache-control']}"; return 200 '${small}'; }
    location / { return 200 '${small}'; }
  }`
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr error;
events { worker_connections 8192; }
http {
  access_log off;
  etag off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=16;
  open_file_cache_valid 600s;
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  client_max_body_size 16m;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${ports.map(server).join('\n')}
}
`,
  )
  return ['-p', dir, '-c', join(dir, 'nginx.conf')]
}
