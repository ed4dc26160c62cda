import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestPki {
  /** The private CA's certificate. */
  ca: string
  /** A server certificate from the CA for `upstream.test` and 127.0.0.1, and its key. */
  server: { cert: string; key: string }
  /** A client certificate from the CA (for mutual TLS), and its key. */
  client: { cert: string; key: string }
  /** A self-signed certificate for 127.0.0.1, and its key. */
  selfSigned: { cert: string; key: string }
}

/**
 * Makes a private CA and certificates with the `openssl` command, in a temporary folder that is
 * removed at once. EC P-256 keys, valid for one day: quick to make, nothing kept.
 */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'swy-pki-'))
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const key = (name: string) => run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`)
  const read = (file: string) => readFileSync(join(dir, file), 'utf8')
  try {
    key('ca')
    run('req', '-x509', '-new', '-key', 'ca.key', '-days', '1', '-subj', '/CN=Switchyard Test CA', '-out', 'ca.crt')
    const issue = (name: string, cn: string, ext: string) => {
      key(name)
      run('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`)
      writeFileSync(join(dir, `${name}.ext`), ext)
      run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`)
    }
    issue('server', 'upstream.test', 'subjectAltName=DNS:upstream.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
    issue('client', 'switchyard', 'extendedKeyUsage=clientAuth\n')
    key('self')
    run('req', '-x509', '-new', '-key', 'self.key', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-out', 'self.crt')
    return {
      ca: read('ca.crt'),
      server: { cert: read('server.crt'), key: read('server.key') },
      client: { cert: read('client.crt'), key: read('client.key') },
      selfSigned: { cert: read('self.crt'), key: read('self.key') },
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
