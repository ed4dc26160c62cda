// nginx with the same upstream block, configured well (the reference row): one worker,
// upstream keepalive 1024, keepalive_requests 1000000, HTTP/1.1 to the upstreams.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
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
 * master and `workers` worker processes when asked (the multi-core comparison).
 */
export function nginxArgs({ port, upstreams, leastConn = false, workers = 1 }) {
  const dir = join(tmpdir(), `switchyard-nginx-${port}`)
  mkdirSync(join(dir, 'logs'), { recursive: true })
  const servers = upstreams.map((u) => `    server ${new URL(u).host};`).join('\n')
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
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
  upstream backend {
${leastConn ? '    least_conn;\n' : ''}${servers}
    keepalive 1024;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    client_max_body_size 16m;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
  )
  return ['-p', dir, '-c', join(dir, 'nginx.conf')]
}
