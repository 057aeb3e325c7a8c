/**
 * Access: users with roles viewer < operator < admin, scrypt password
 * hashes in `<dataDir>/users.json`, and signed session tokens.
 *
 * Sessions are HMAC-signed tokens (key in `<dataDir>/session.key`), carried
 * in an httpOnly SameSite=Strict cookie or as `Authorization: Bearer`. They
 * need no server-side table, so a browser stays logged in across a server
 * restart and reconnects by itself; logout puts the token's id on a denylist
 * until it expires.
 */
import { createHmac, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const roleRank = (r: Role): number => ROLES.indexOf(r);

export interface User {
  username: string;
  role: Role;
  /** `scrypt$N$r$p$salt$hash`, base64 */
  passwordHash: string;
  createdAt: number;
}

export interface Session {
  username: string;
  role: Role;
  /** epoch ms */
  exp: number;
  jti: string;
}

// OWASP's scrypt minimum (N=2^17 is recommended for new systems; 2^15 keeps login under ~100 ms on 2 cores)
const SCRYPT = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;
export function validUsername(u: string): boolean {
  return USERNAME.test(u);
}

export class Auth {
  private users = new Map<string, User>();
  private key: Buffer = Buffer.alloc(0);
  private readonly revoked = new Map<string, number>();
  /** failed logins per "ip|username": timestamps inside the window */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly dataDir: string,
    private readonly opts: { sessionTtlS: number; loginMaxFailures: number; loginWindowS: number; adminPassword?: string | undefined },
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private get usersFile(): string {
    return path.join(this.dataDir, 'users.json');
  }

  async start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    const keyFile = path.join(this.dataDir, 'session.key');
    try {
      this.key = Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'base64');
    } catch {
      this.key = randomBytes(32);
      await writeFile(keyFile, this.key.toString('base64'), { mode: 0o600 });
    }
    if (this.key.length < 32) throw new Error(`${keyFile}: session key shorter than 32 bytes`);
    try {
      const list = JSON.parse(await readFile(this.usersFile, 'utf8')) as User[];
      this.users = new Map(list.map((u) => [u.username, u]));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${this.usersFile}: ${(e as Error).message}`);
    }
    if (this.users.size === 0) {
      const generated = !this.opts.adminPassword;
      const password = this.opts.adminPassword ?? randomBytes(12).toString('base64url');
      await this.putUser('admin', password, 'admin');
      if (generated) {
        // printed once, on the first start only; the log redacts `password` fields, so it goes out on its own line
        process.stdout.write(`\n  gridwatch first start: created user "admin" with password ${password}\n  (set GW_ADMIN_PASSWORD to choose it; change it after logging in)\n\n`);
      }
      this.log.warn({ username: 'admin', generated }, 'first start: admin user created');
    }
  }

  async putUser(username: string, password: string, role: Role): Promise<User> {
    if (!validUsername(username)) throw new Error('invalid username');
    const user: User = { username, role, passwordHash: await hashPassword(password), createdAt: this.now() };
    this.users.set(username, user);
    const tmp = `${this.usersFile}.tmp`;
    await writeFile(tmp, JSON.stringify([...this.users.values()], null, 2), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.usersFile);
    return user;
  }

  listUsers(): Array<Pick<User, 'username' | 'role' | 'createdAt'>> {
    return [...this.users.values()].map(({ username, role, createdAt }) => ({ username, role, createdAt }));
  }

  /** Seconds until this ip/username may try again, or 0. */
  lockedFor(ip: string, username: string): number {
    const key = `${ip}|${username}`;
    const t = this.now();
    const recent = (this.failures.get(key) ?? []).filter((x) => t - x < this.opts.loginWindowS * 1000);
    this.failures.set(key, recent);
    if (recent.length < this.opts.loginMaxFailures) return 0;
    return Math.ceil((recent[0]! + this.opts.loginWindowS * 1000 - t) / 1000);
  }

  async login(ip: string, username: string, password: string): Promise<Session | null> {
    const user = this.users.get(username);
    // verify against a dummy hash for unknown users so timing does not tell which names exist
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    const key = `${ip}|${username}`;
    if (!user || !ok) {
      this.failures.set(key, [...(this.failures.get(key) ?? []), this.now()]);
      this.log.warn({ username, ip }, 'login failed');
      return null;
    }
    this.failures.delete(key);
    return { username, role: user.role, exp: this.now() + this.opts.sessionTtlS * 1000, jti: randomUUID() };
  }

  sign(s: Session): string {
    const body = Buffer.from(JSON.stringify(s)).toString('base64url');
    return `${body}.${createHmac('sha256', this.key).update(body).digest('base64url')}`;
  }

  /** The session a token carries, or null when it is forged, expired, revoked or its user is gone. */
  verify(token: string | undefined): Session | null {
    if (!token || token.length > 2048) return null;
    const [body, mac] = token.split('.');
    if (!body || !mac) return null;
    const expected = createHmac('sha256', this.key).update(body).digest();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let s: Session;
    try {
      s = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Session;
    } catch {
      return null;
    }
    if (typeof s.exp !== 'number' || s.exp <= this.now() || this.revoked.has(s.jti)) return null;
    const user = this.users.get(s.username);
    if (!user) return null;
    // the role is the user's current one: a demotion takes effect at once
    return { ...s, role: user.role };
  }

  revoke(s: Session): void {
    this.revoked.set(s.jti, s.exp);
    const t = this.now();
    for (const [jti, exp] of this.revoked) if (exp <= t) this.revoked.delete(jti);
  }
}

// a valid hash of a random password, computed once at load
const DUMMY_HASH = await hashPassword(randomBytes(16).toString('hex'));
