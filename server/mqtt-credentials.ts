/**
 * MQTT credentials of the edge agents, in `<dataDir>/agents.json` (mode 600),
 * and the server's own MQTT secret in `<dataDir>/mqtt-server.secret`.
 *
 * Each agent has its site, a PBKDF2-SHA512 password hash in Mosquitto 2's
 * `$7$<iterations>$<salt>$<hash>` form (so `scripts/agents.ts mosquitto` can
 * copy it into a Mosquitto password file), created / rotated times and a
 * revoked flag. Passwords are random (24 bytes, base64url) and are returned
 * once, by provision and rotate; only the hash is kept.
 *
 * The admin API and the CLI (scripts/agents.ts) both write the file: every
 * change re-reads it first, and a running server watches it, so a change made
 * by the CLI takes effect within about a second. A rotated, revoked or
 * removed agent is cut off (`onCutOff`).
 */
import { pbkdf2 as pbkdf2Cb, randomBytes, timingSafeEqual } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { isTopicId } from '../contract/index.ts';
import { RESERVED_PREFIX, SERVER_USERNAME, isServerUsername, type MqttIdentity, type RefusalReason } from './mqtt-policy.ts';

const pbkdf2 = promisify(pbkdf2Cb);

/** Iterations of PBKDF2-SHA512: the passwords are 192 random bits, which no iteration count makes harder to guess; 1000 (Mosquitto: 101) keeps a check at a few milliseconds, so a flood of CONNECTs costs little. */
export const PBKDF2_ITERATIONS = 1000;

export interface AgentCredential {
  agent: string;
  site: string;
  /** `$7$<iterations>$<salt base64>$<hash base64>`: PBKDF2-SHA512, 12-byte salt, 64-byte hash (Mosquitto 2) */
  passwordHash: string;
  /** epoch ms */
  createdAt: number;
  rotatedAt: number | null;
  revoked: boolean;
  revokedAt?: number;
}

export type AgentInfo = Omit<AgentCredential, 'passwordHash'>;

export type CredentialErrorCode = 'GW_ERR_AGENT_INVALID' | 'GW_ERR_AGENT_EXISTS' | 'GW_ERR_AGENT_UNKNOWN' | 'GW_ERR_AGENT_REVOKED' | 'GW_ERR_AGENT_FILE';

export class CredentialError extends Error {
  override readonly name = 'CredentialError';
  constructor(
    readonly code: CredentialErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Mosquitto 2 `$7$` hash of a password. */
export async function hashMqttPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = randomBytes(12);
  const key = await pbkdf2(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyMqttPassword(password: string, stored: string): Promise<boolean> {
  const [empty, scheme, it, salt, hash] = stored.split('$');
  const iterations = Number(it);
  if (empty !== '' || scheme !== '7' || !Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000 || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  if (expected.length !== 64) return false;
  const key = await pbkdf2(password, Buffer.from(salt, 'base64'), iterations, 64, 'sha512');
  return timingSafeEqual(key, expected);
}

export function newAgentPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Why an agent id or site is not acceptable, or null. */
export function invalidAgentId(agent: string): string | null {
  if (!isTopicId(agent)) return `agent id "${agent}": 1–64 letters, digits, _ . - starting with a letter or digit`;
  if (agent.startsWith(RESERVED_PREFIX)) return `agent id "${agent}": ids starting with "${RESERVED_PREFIX}" are reserved`;
  return null;
}
export function invalidSite(site: string): string | null {
  if (!isTopicId(site) || site === 'agent' || site === 'server') return `site "${site}": 1–64 letters, digits, _ . - starting with a letter or digit, not "agent" or "server"`;
  return null;
}

export type VerifyResult = { ok: true; identity: MqttIdentity } | { ok: false; reason: RefusalReason };

export class AgentCredentials {
  private agents = new Map<string, AgentCredential>();
  private serverSecret = '';
  private chain: Promise<unknown> = Promise.resolve();
  private readonly cutOffListeners: Array<(agent: string, why: 'rotated' | 'revoked' | 'removed') => void> = [];
  private readonly changeListeners: Array<() => void> = [];
  private watching = false;

  constructor(
    private readonly dataDir: string,
    private readonly now: () => number = Date.now,
  ) {}

  get file(): string {
    return path.join(this.dataDir, 'agents.json');
  }

  get serverSecretFile(): string {
    return path.join(this.dataDir, 'mqtt-server.secret');
  }

  /** Loads the file and the server secret (created on first start); `watch` follows changes made by other writers. */
  async start(opts: { watch?: boolean; onReloadError?: (err: Error) => void } = {}): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    this.agents = await this.read();
    try {
      this.serverSecret = (await readFile(this.serverSecretFile, 'utf8')).trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (this.serverSecret.length < 32) {
      this.serverSecret = randomBytes(32).toString('base64url');
      await writeFile(this.serverSecretFile, `${this.serverSecret}\n`, { mode: 0o600 });
      await chmod(this.serverSecretFile, 0o600);
    }
    if (opts.watch) {
      this.watching = true;
      watchFile(this.file, { interval: 500, persistent: false }, () => {
        void this.serial(() => this.reload()).catch((err: Error) => opts.onReloadError?.(err));
      });
    }
  }

  stop(): void {
    if (this.watching) unwatchFile(this.file);
    this.watching = false;
  }

  /** The server's own credentials for the embedded broker. */
  serverCredentials(): { username: string; password: string } {
    if (!this.serverSecret) throw new Error('AgentCredentials not started');
    return { username: SERVER_USERNAME, password: this.serverSecret };
  }

  /** Called when an agent's password stops being valid (rotated, revoked, removed from the file). */
  onCutOff(fn: (agent: string, why: 'rotated' | 'revoked' | 'removed') => void): void {
    this.cutOffListeners.push(fn);
  }

  /** Called after any change of the credentials (made here or read from the file). */
  onChange(fn: () => void): void {
    this.changeListeners.push(fn);
  }

  private changed(): void {
    for (const fn of this.changeListeners) {
      try {
        fn();
      } catch {
        // a listener's failure must not undo the change
      }
    }
  }

  list(): AgentInfo[] {
    return [...this.agents.values()].sort((a, b) => a.agent.localeCompare(b.agent)).map(({ passwordHash: _h, ...info }) => info);
  }

  get(agent: string): AgentInfo | undefined {
    const c = this.agents.get(agent);
    if (!c) return undefined;
    const { passwordHash: _h, ...info } = c;
    return info;
  }

  /** Changes whenever the agent's password or revoked flag does; undefined for an unknown agent. */
  stamp(agent: string): string | undefined {
    const c = this.agents.get(agent);
    return c ? `${c.passwordHash}|${c.revoked}` : undefined;
  }

  /** Every credential, hashes included (for the Mosquitto export). */
  all(): AgentCredential[] {
    return [...this.agents.values()].map((c) => ({ ...c }));
  }

  /** New agent (or a revoked one provisioned again): a fresh password, returned once. */
  provision(agent: string, site: string): Promise<{ agent: AgentInfo; password: string }> {
    return this.serial(async () => {
      const bad = invalidAgentId(agent) ?? invalidSite(site);
      if (bad) throw new CredentialError('GW_ERR_AGENT_INVALID', bad);
      await this.reload();
      const old = this.agents.get(agent);
      if (old && !old.revoked) throw new CredentialError('GW_ERR_AGENT_EXISTS', `agent "${agent}" already has credentials; rotate them or revoke first`);
      const password = newAgentPassword();
      const t = this.now();
      const c: AgentCredential = { agent, site, passwordHash: await hashMqttPassword(password), createdAt: t, rotatedAt: null, revoked: false };
      this.agents.set(agent, c);
      await this.write();
      return { agent: this.get(agent)!, password };
    });
  }

  /** A new password for an active agent; the old one stops working at once and a connected client is cut off. */
  rotate(agent: string): Promise<{ agent: AgentInfo; password: string }> {
    return this.serial(async () => {
      await this.reload();
      const c = this.agents.get(agent);
      if (!c) throw new CredentialError('GW_ERR_AGENT_UNKNOWN', `no agent "${agent}"`);
      if (c.revoked) throw new CredentialError('GW_ERR_AGENT_REVOKED', `agent "${agent}" is revoked; provision it again`);
      const password = newAgentPassword();
      this.agents.set(agent, { ...c, passwordHash: await hashMqttPassword(password), rotatedAt: this.now() });
      await this.write();
      this.cutOff(agent, 'rotated');
      return { agent: this.get(agent)!, password };
    });
  }

  /** Disables the agent's credentials and cuts off a connected client of it. Revoking twice is not an error. */
  revoke(agent: string): Promise<AgentInfo> {
    return this.serial(async () => {
      await this.reload();
      const c = this.agents.get(agent);
      if (!c) throw new CredentialError('GW_ERR_AGENT_UNKNOWN', `no agent "${agent}"`);
      if (!c.revoked) {
        this.agents.set(agent, { ...c, revoked: true, revokedAt: this.now() });
        await this.write();
      }
      this.cutOff(agent, 'revoked');
      return this.get(agent)!;
    });
  }

  /** Checks a CONNECT's user name and password. */
  async verify(username: string, password: string | undefined): Promise<VerifyResult> {
    if (isServerUsername(username)) {
      const a = Buffer.from(password ?? '');
      const b = Buffer.from(this.serverSecret);
      if (this.serverSecret && a.length === b.length && timingSafeEqual(a, b)) return { ok: true, identity: { kind: 'server', username } };
      return { ok: false, reason: 'bad_credentials' };
    }
    const c = this.agents.get(username);
    // hash anyway for unknown names, so timing does not tell which agents exist
    const ok = await verifyMqttPassword(password ?? '', c?.passwordHash ?? DUMMY_HASH);
    // re-read after the await: a rotation or revocation may have happened meanwhile
    const now = this.agents.get(username);
    if (!c || !ok || now?.passwordHash !== c.passwordHash) return { ok: false, reason: 'bad_credentials' };
    // the password was checked before the flag: the caller learns it is revoked only with the right password
    if (now.revoked) return { ok: false, reason: 'revoked' };
    return { ok: true, identity: { kind: 'agent', agent: now.agent, site: now.site } };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private cutOff(agent: string, why: 'rotated' | 'revoked' | 'removed'): void {
    for (const fn of this.cutOffListeners) {
      try {
        fn(agent, why);
      } catch {
        // a listener's failure must not undo the change
      }
    }
  }

  /** Re-reads the file; agents whose password changed or that were revoked or removed there are cut off. */
  private async reload(): Promise<void> {
    const next = await this.read();
    const before = this.agents;
    this.agents = next;
    const same = before.size === next.size && [...next].every(([id, c]) => JSON.stringify(before.get(id)) === JSON.stringify(c));
    if (!same) this.changed();
    for (const [id, old] of before) {
      const now = next.get(id);
      if (!now) this.cutOff(id, 'removed');
      else if (now.revoked && !old.revoked) this.cutOff(id, 'revoked');
      else if (now.passwordHash !== old.passwordHash) this.cutOff(id, 'rotated');
    }
  }

  private async read(): Promise<Map<string, AgentCredential>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw e;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new CredentialError('GW_ERR_AGENT_FILE', `${this.file}: not JSON (${(e as Error).message})`);
    }
    const list = (doc as { agents?: unknown })?.agents;
    if (!Array.isArray(list)) throw new CredentialError('GW_ERR_AGENT_FILE', `${this.file}: expected { "version": 1, "agents": [...] }`);
    const out = new Map<string, AgentCredential>();
    list.forEach((raw: Partial<AgentCredential>, i) => {
      const bad =
        typeof raw?.agent !== 'string' || typeof raw.site !== 'string' || typeof raw.passwordHash !== 'string' || !raw.passwordHash.startsWith('$7$')
          ? 'agent, site and a $7$ passwordHash are required'
          : (invalidAgentId(raw.agent) ?? invalidSite(raw.site));
      if (bad) throw new CredentialError('GW_ERR_AGENT_FILE', `${this.file}: agents[${i}]: ${bad}`);
      out.set(raw.agent!, {
        agent: raw.agent!,
        site: raw.site!,
        passwordHash: raw.passwordHash!,
        createdAt: Number(raw.createdAt) || 0,
        rotatedAt: typeof raw.rotatedAt === 'number' ? raw.rotatedAt : null,
        revoked: raw.revoked === true,
        ...(typeof raw.revokedAt === 'number' ? { revokedAt: raw.revokedAt } : {}),
      });
    });
    return out;
  }

  private async write(): Promise<void> {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const doc = { version: 1, agents: [...this.agents.values()].sort((a, b) => a.agent.localeCompare(b.agent)) };
    await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.file);
    this.changed();
  }
}

const DUMMY_HASH = await hashMqttPassword(randomBytes(16).toString('hex'));
