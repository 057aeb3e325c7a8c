/** Throw-away PKI for the TLS tests, made with the openssl CLI in a temp dir. */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestPki {
  dir: string;
  /** PEM file paths */
  ca: string;
  /** a second CA that signed nothing the broker trusts */
  otherCa: string;
  server: { cert: string; key: string };
  /** client certificate with subject CN = cn ('' → no CN), signed by `ca` (or by `otherCa` with { by: 'other' }) */
  client(cn: string, opts?: { by?: 'ca' | 'other' }): Promise<{ cert: string; key: string }>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

async function sign(dir: string, name: string, cn: string, ca: string, ext: string): Promise<{ cert: string; key: string }> {
  // an empty cn: a subject without a CN
  await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', cn ? `/CN=${cn}` : '/O=gridwatch-test']);
  await writeFile(path.join(dir, `${name}.ext`), `${ext}\n`);
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-pki-'));
  await Promise.all([makeCa(dir, 'ca'), makeCa(dir, 'other-ca')]);
  const server = await sign(dir, 'server', '127.0.0.1', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
  let n = 0;
  return {
    dir,
    ca: path.join(dir, 'ca.crt'),
    otherCa: path.join(dir, 'other-ca.crt'),
    server,
    client: (cn, opts = {}) => sign(dir, `client-${++n}`, cn, opts.by === 'other' ? 'other-ca' : 'ca', 'extendedKeyUsage=clientAuth'),
  };
}
