/**
 * Access: users with roles viewer < operator < admin, scrypt password
 * hashes in `<dataDir>/users.json`, and signed session tokens.
 *
 * Sessions are HMAC-signed tokens (key in `<dataDir>/session.key`), carried
 * in an httpOnly SameSite=Strict cookie or as `Authorization: Bearer`. They
 * need no server-side table, so a browser stays logged in across a server
 * restart and reconnects by itself; logout puts the token's id on a denylist
 * until it expires. Each token carries its user's password generation: a
 * password change or reset, or disabling the user, raises it and ends every
 * older session. Role and stations (`sites`, server/scope.ts) are looked up
 * on every request, so changes to them apply at once.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { GridwatchError } from './errors.ts';
import { LoginBusy, LoginLimiter } from './login-limit.ts';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwords.ts';

export { hashPassword, verifyPassword };

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const roleRank = (r: Role): number => ROLES.indexOf(r);

export interface User {
  username: string;
  role: Role;
  /** `scrypt$N$r$p$salt$hash`, base64 */
  passwordHash: string;
  createdAt: number;
  /** supply stations (topology site ids) the user may see; absent → all */
  sites?: string[];
  /** a disabled user cannot log in and its sessions stop working */
  disabled?: boolean;
  /** raised by every password change and reset: sessions signed with an older one stop working */
  gen?: number;
  /** epoch ms of the last change to role, sites, state or password */
  updatedAt?: number;
}

/** A user as the API shows it (no hash). */
export interface UserView {
  username: string;
  role: Role;
  sites: string[] | null;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface Session {
  username: string;
  role: Role;
  /** epoch ms */
  exp: number;
  jti: string;
  /** the user's password generation when the session was issued */
  gen?: number;
  /** the user's current stations (not signed: looked up on every request); null → all */
  sites?: readonly string[] | null;
}

export type LoginResult =
  | { ok: true; session: Session }
  /** wrong name or password, or a disabled user: the caller answers the same for all three */
  | { ok: false; reason: 'bad_credentials' | 'disabled' }
  /** too many failures for this address and name (`rate_limited`) or too many checks at once server-wide (`busy`) */
  | { ok: false; reason: 'rate_limited' | 'busy'; retryAfterS: number };

export const INITIAL_ADMIN_PASSWORD_FILE = 'initial-admin-password';

const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;
export function validUsername(u: string): boolean {
  return USERNAME.test(u);
}

export interface AuthOptions {
  sessionTtlS: number;
  loginMaxFailures: number;
  loginWindowS: number;
  /** password checks running at once, server-wide (default 2) */
  loginConcurrency?: number;
  /** password checks waiting for a turn before logins are refused as busy (default 32) */
  loginQueue?: number;
  adminPassword?: string | undefined;
}

export class Auth {
  private users = new Map<string, User>();
  private key: Buffer = Buffer.alloc(0);
  private readonly revoked = new Map<string, number>();
  /** failed logins per "ip|username" and the server-wide bound on password checks */
  readonly limiter: LoginLimiter;
  /** user changes one at a time: each reads the users the previous one left */
  private saving: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dataDir: string,
    private readonly opts: AuthOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.limiter = new LoginLimiter(
      { maxFailures: opts.loginMaxFailures, windowS: opts.loginWindowS, concurrency: opts.loginConcurrency ?? 2, queue: opts.loginQueue ?? 32 },
      now,
    );
  }

  private get usersFile(): string {
    return path.join(this.dataDir, 'users.json');
  }

  /** Where the generated first admin password is kept until the admin changes it. */
  get initialPasswordFile(): string {
    return path.join(this.dataDir, INITIAL_ADMIN_PASSWORD_FILE);
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
        // never to stdout, where container logs would keep it: a file only the service user can read
        const file = this.initialPasswordFile;
        await writeFile(file, `${password}\n`, { mode: 0o600 });
        await chmod(file, 0o600);
        this.log.warn({ username: 'admin', file }, `first start: created user "admin"; its password is in ${file} (removed when the admin changes it)`);
        // a person at a terminal sees it at once; a pipe or a log collector does not
        if (process.stdout.isTTY) process.stdout.write(`\n  gridwatch first start: user "admin", password ${password}\n  (also in ${file}; change it after logging in)\n\n`);
      } else this.log.warn({ username: 'admin' }, 'first start: admin user created with the configured password');
    }
  }

  private readonly changeListeners: Array<(username: string) => void> = [];

  /** Called after a user's role, stations, state or password changed, or it was deleted (to end its live connections). */
  onUserChange(fn: (username: string) => void): void {
    this.changeListeners.push(fn);
  }

  /** Runs user changes one after another and saves the users after each; `username`'s listeners are told once saved. */
  private change<T>(fn: () => Promise<T> | T, username?: string): Promise<T> {
    const run = this.saving.then(async () => {
      const r = await fn();
      await this.save();
      if (username !== undefined)
        for (const l of this.changeListeners) {
          try {
            l(username);
          } catch (err) {
            this.log.error({ err, username }, 'user change listener failed');
          }
        }
      return r;
    });
    this.saving = run.catch(() => undefined);
    return run;
  }

  private async save(): Promise<void> {
    const tmp = `${this.usersFile}.tmp`;
    await writeFile(tmp, JSON.stringify([...this.users.values()], null, 2), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.usersFile);
  }

  /** Creates or replaces a user (first start, tests). The API's create refuses an existing name: `createUser`. */
  async putUser(username: string, password: string, role: Role, sites?: readonly string[]): Promise<User> {
    if (!validUsername(username)) throw new GridwatchError('GW_ERR_USER_INVALID', 'username: letters, digits, _ . @ - (max 64)');
    const passwordHash = await hashPassword(password);
    return this.change(() => {
      const t = this.now();
      const prev = this.users.get(username);
      // the generation stays: a replaced user's sessions go on (a test server restarting on the same data)
      const user: User = { username, role, passwordHash, createdAt: prev?.createdAt ?? t, updatedAt: t, gen: prev?.gen ?? 0 };
      if (sites) user.sites = [...sites];
      this.users.set(username, user);
      return user;
    });
  }

  async createUser(username: string, password: string, role: Role, sites?: readonly string[]): Promise<UserView> {
    if (!validUsername(username)) throw new GridwatchError('GW_ERR_USER_INVALID', 'username: letters, digits, _ . @ - (max 64)');
    if (this.users.has(username)) throw new GridwatchError('GW_ERR_USER_EXISTS', `user ${username} exists`);
    const passwordHash = await hashPassword(password);
    return this.change(() => {
      if (this.users.has(username)) throw new GridwatchError('GW_ERR_USER_EXISTS', `user ${username} exists`);
      const t = this.now();
      const user: User = { username, role, passwordHash, createdAt: t, updatedAt: t, gen: 0 };
      if (sites) user.sites = [...sites];
      this.users.set(username, user);
      return viewOf(user);
    });
  }

  private existing(username: string): User {
    const u = this.users.get(username);
    if (!u) throw new GridwatchError('GW_ERR_USER_UNKNOWN', `no user ${username}`);
    return u;
  }

  /** Refuses a change that would leave no enabled admin of every station (only such an admin manages users). */
  private keepAnAdmin(u: User, what: string): void {
    const full = (x: User) => x.role === 'admin' && !x.disabled && !x.sites;
    if (!full(u)) return;
    if (![...this.users.values()].some((x) => x !== u && full(x)))
      throw new GridwatchError('GW_ERR_USER_LAST_ADMIN', `${u.username} is the last enabled admin of every station: cannot ${what} it`);
  }

  /** Role, stations (`null`: all) and disabled state; only the keys given change. */
  updateUser(username: string, patch: { role?: Role; sites?: readonly string[] | null; disabled?: boolean }): Promise<UserView> {
    return this.change(() => {
      const u = this.existing(username);
      if (patch.role !== undefined && patch.role !== 'admin') this.keepAnAdmin(u, 'demote');
      if (patch.disabled === true) this.keepAnAdmin(u, 'disable');
      if (patch.sites) this.keepAnAdmin(u, 'narrow to some stations');
      const next: User = { ...u, updatedAt: this.now() };
      if (patch.role !== undefined) next.role = patch.role;
      if (patch.sites === null) delete next.sites;
      else if (patch.sites !== undefined) next.sites = [...patch.sites];
      if (patch.disabled === true && !u.disabled) {
        next.disabled = true;
        // its sessions end for good: enabling it again does not bring them back
        next.gen = (u.gen ?? 0) + 1;
      } else if (patch.disabled === false) delete next.disabled;
      this.users.set(username, next);
      return viewOf(next);
    }, username);
  }

  deleteUser(username: string): Promise<void> {
    return this.change(async () => {
      const u = this.existing(username);
      this.keepAnAdmin(u, 'delete');
      this.users.delete(username);
      if (username === 'admin') await this.removeInitialPassword();
    }, username);
  }

  /**
   * A user's own change: needs the current password (checked within the
   * login limits of `ip`); every session of the user ends, and the one
   * returned replaces the caller's.
   */
  async changePassword(ip: string, username: string, current: string, next: string): Promise<Session> {
    const key = `${ip}|${username}`;
    const wait = this.limiter.reserve(key);
    if (wait > 0) throw new GridwatchError('GW_ERR_AUTH_RATE_LIMITED', `too many wrong passwords; try again in ${wait} s`);
    let ok = false;
    try {
      const user = this.existing(username);
      ok = await this.limiter.check(() => verifyPassword(current, user.passwordHash));
    } catch (e) {
      this.limiter.release(key, 'not_checked');
      if (e instanceof LoginBusy) throw new GridwatchError('GW_ERR_AUTH_RATE_LIMITED', 'too many password checks at once; try again in a second');
      throw e;
    }
    this.limiter.release(key, ok ? 'succeeded' : 'failed');
    if (!ok) throw new GridwatchError('GW_ERR_AUTH_WRONG_PASSWORD', 'the current password is wrong');
    const gen = await this.setPassword(username, next);
    const user = this.existing(username);
    return { username, role: user.role, exp: this.now() + this.opts.sessionTtlS * 1000, jti: randomUUID(), gen };
  }

  /** An admin's reset: every session of the user ends. */
  async resetPassword(username: string, next: string): Promise<void> {
    this.existing(username);
    await this.setPassword(username, next);
  }

  private async setPassword(username: string, password: string): Promise<number> {
    const passwordHash = await hashPassword(password);
    return this.change(async () => {
      const u = this.existing(username);
      const gen = (u.gen ?? 0) + 1;
      this.users.set(username, { ...u, passwordHash, gen, updatedAt: this.now() });
      if (username === 'admin') await this.removeInitialPassword();
      return gen;
    }, username);
  }

  private async removeInitialPassword(): Promise<void> {
    await unlink(this.initialPasswordFile).then(
      () => this.log.info({ file: this.initialPasswordFile }, 'initial admin password file removed'),
      (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') this.log.warn({ err: e, file: this.initialPasswordFile }, 'cannot remove the initial admin password file');
      },
    );
  }

  listUsers(): UserView[] {
    return [...this.users.values()].map(viewOf);
  }

  user(username: string): UserView | null {
    const u = this.users.get(username);
    return u ? viewOf(u) : null;
  }

  /**
   * One login attempt. The attempt is counted before the password is
   * checked (server/login-limit.ts); unknown names are checked against a
   * dummy hash so that timing does not tell which names exist.
   */
  async login(ip: string, username: string, password: string): Promise<LoginResult> {
    const key = `${ip}|${username}`;
    const wait = this.limiter.reserve(key);
    if (wait > 0) return { ok: false, reason: 'rate_limited', retryAfterS: wait };
    const user = this.users.get(username);
    let ok: boolean;
    try {
      ok = await this.limiter.check(() => verifyPassword(password, user?.passwordHash ?? DUMMY_HASH));
    } catch (e) {
      this.limiter.release(key, 'not_checked');
      if (e instanceof LoginBusy) return { ok: false, reason: 'busy', retryAfterS: 1 };
      throw e;
    }
    // the user may have changed while its hash was checked
    if (!user || !ok || this.users.get(username) !== user) {
      this.limiter.release(key, 'failed');
      this.log.warn({ username, ip }, 'login failed');
      return { ok: false, reason: 'bad_credentials' };
    }
    if (user.disabled) {
      this.limiter.release(key, 'failed');
      this.log.warn({ username, ip }, 'login of a disabled user refused');
      return { ok: false, reason: 'disabled' };
    }
    this.limiter.release(key, 'succeeded');
    return { ok: true, session: { username, role: user.role, exp: this.now() + this.opts.sessionTtlS * 1000, jti: randomUUID(), gen: user.gen ?? 0, sites: user.sites ?? null } };
  }

  sign(s: Session): string {
    const signed: Session = { username: s.username, role: s.role, exp: s.exp, jti: s.jti, gen: s.gen ?? 0 };
    const body = Buffer.from(JSON.stringify(signed)).toString('base64url');
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
    // a disabled user, or a password changed since: the session ends at once
    if (!user || user.disabled || (s.gen ?? 0) !== (user.gen ?? 0)) return null;
    // role and stations are the user's current ones: a demotion or a narrowing takes effect at once
    return { ...s, role: user.role, sites: user.sites ?? null };
  }

  revoke(s: Session): void {
    this.revoked.set(s.jti, s.exp);
    const t = this.now();
    for (const [jti, exp] of this.revoked) if (exp <= t) this.revoked.delete(jti);
  }
}

function viewOf(u: User): UserView {
  return { username: u.username, role: u.role, sites: u.sites ? [...u.sites] : null, disabled: u.disabled === true, createdAt: u.createdAt, updatedAt: u.updatedAt ?? u.createdAt };
}
