/**
 * Mosquitto 2 password and ACL files from the agent credentials: the same
 * users and the same policy (server/mqtt-policy.ts) as the embedded broker.
 * Revoked agents are left out of both files.
 *
 * Password file lines are `user:$7$<iterations>$<salt b64>$<hash b64>`
 * (PBKDF2-SHA512, what `mosquitto_passwd` writes); the agents' hashes are
 * copied as stored, the server's secret is hashed here.
 */
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashMqttPassword, type AgentCredentials } from './mqtt-credentials.ts';
import { renderMosquittoAcl, serverUsernames } from './mqtt-policy.ts';

export interface MosquittoFiles {
  passwordFile: string;
  aclFile: string;
  users: string[];
}

/** `serverUsers`: how many server user names (`gridwatch-server`, `gridwatch-server-2`, …), one per server instance on this broker */
export async function mosquittoPasswordText(credentials: AgentCredentials, serverUsers = 1): Promise<string> {
  const server = credentials.serverCredentials();
  const lines: string[] = [];
  for (const u of serverUsernames(serverUsers)) lines.push(`${u}:${await hashMqttPassword(server.password)}`);
  for (const c of credentials.all().sort((a, b) => a.agent.localeCompare(b.agent))) if (!c.revoked) lines.push(`${c.agent}:${c.passwordHash}`);
  return `${lines.join('\n')}\n`;
}

export function mosquittoAclText(credentials: AgentCredentials, serverUsers = 1): string {
  return renderMosquittoAcl(credentials.all().filter((c) => !c.revoked), serverUsernames(serverUsers));
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** Writes `<dir>/passwd` and `<dir>/acl` (mode 600). */
export async function writeMosquittoFiles(credentials: AgentCredentials, dir: string, opts: { serverUsers?: number } = {}): Promise<MosquittoFiles> {
  await mkdir(dir, { recursive: true });
  const passwordFile = path.join(dir, 'passwd');
  const aclFile = path.join(dir, 'acl');
  const passwords = await mosquittoPasswordText(credentials, opts.serverUsers);
  await writeAtomic(passwordFile, passwords);
  await writeAtomic(aclFile, mosquittoAclText(credentials, opts.serverUsers));
  return { passwordFile, aclFile, users: passwords.trim().split('\n').map((l) => l.split(':')[0]!) };
}
