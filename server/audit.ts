/**
 * Security audit log: logins and their failures, credential and user changes,
 * refused MQTT connections and publishes, agent provisioning. Appended as one
 * JSON object per line to `<dataDir>/audit.log` (mode 600) and kept in memory
 * for the admin query (`GET /api/audit`), newest last.
 *
 * Hostile traffic must not flood it: events of the same kind and actor are
 * written at most `burst` times per `windowMs`; the rest are counted and the
 * count is written with the next event of that key that passes ("suppressed").
 */
import { appendFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';

export const AUDIT_KINDS = [
  'login',
  'login_failed',
  'login_rate_limited',
  'logout',
  'password_changed',
  'password_reset',
  'user_created',
  'user_updated',
  'user_disabled',
  'user_enabled',
  'user_deleted',
  'agent_provisioned',
  'agent_rotated',
  'agent_revoked',
  'mqtt_auth_failed',
  'mqtt_publish_refused',
  'mqtt_subscribe_refused',
  'reading_rejected',
  'ws_refused',
  'outage_plan_changed',
  'outage_finding_resolved',
  'notify_callback_refused',
  'customers_imported',
  'topology_reloaded',
  'contacts_changed',
  'rules_changed',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export interface AuditEvent {
  /** epoch ms */
  ts: number;
  kind: AuditKind;
  /** who did it: a user name, an MQTT client's user name / agent id, or '' when unknown */
  actor: string;
  /** remote address, when known */
  ip?: string;
  /** what it was done to: a user, an agent, a topic */
  target?: string;
  /** short free text (reason) */
  detail?: string;
  /** events of this kind and actor left out since the last one written */
  suppressed?: number;
}

export interface AuditQuery {
  kind?: readonly AuditKind[];
  actor?: string;
  from?: number;
  to?: number;
  limit?: number;
}

export interface AuditOptions {
  /** events kept in memory for queries */
  keep?: number;
  /** the file is renamed to audit.log.1 past this size (one old file kept) */
  maxFileBytes?: number;
  /** events per kind and actor written per window */
  burst?: number;
  windowMs?: number;
}

export class AuditLog {
  private readonly events: AuditEvent[] = [];
  private readonly limiter = new Map<string, { windowStart: number; n: number; suppressed: number }>();
  private writing: Promise<void> = Promise.resolve();
  private pendingLines: string[] = [];
  private bytes = 0;
  private readonly keep: number;
  private readonly maxFileBytes: number;
  private readonly burst: number;
  private readonly windowMs: number;

  constructor(
    private readonly dataDir: string | null,
    opts: AuditOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.keep = opts.keep ?? 10_000;
    this.maxFileBytes = opts.maxFileBytes ?? 64 * 1024 * 1024;
    this.burst = opts.burst ?? 20;
    this.windowMs = opts.windowMs ?? 60_000;
  }

  get file(): string | null {
    return this.dataDir ? path.join(this.dataDir, 'audit.log') : null;
  }

  /** Loads the newest `keep` events of the file, so a restart keeps what admins can query. */
  async start(): Promise<void> {
    const file = this.file;
    if (!file) return;
    await mkdir(path.dirname(file), { recursive: true });
    let text = '';
    try {
      text = await readFile(file, 'utf8');
      this.bytes = (await stat(file)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const lines = text.split('\n');
    for (let i = Math.max(0, lines.length - this.keep - 1); i < lines.length; i++) {
      const line = lines[i]!;
      if (!line) continue;
      try {
        const e = JSON.parse(line) as AuditEvent;
        if (typeof e.ts === 'number' && typeof e.kind === 'string') this.events.push(e);
      } catch {
        // a torn last line after a crash: skipped
      }
    }
  }

  /** Records an event; false when the rate limit left it out (it is counted). */
  record(e: Omit<AuditEvent, 'ts' | 'suppressed'> & { ts?: number }): boolean {
    const t = e.ts ?? this.now();
    const key = `${e.kind}|${e.actor}`;
    let l = this.limiter.get(key);
    if (!l || t - l.windowStart >= this.windowMs) {
      const suppressed = l?.suppressed ?? 0;
      l = { windowStart: t, n: 0, suppressed };
      this.limiter.set(key, l);
      if (this.limiter.size > 10_000) this.pruneLimiter(t);
    }
    if (l.n >= this.burst) {
      l.suppressed++;
      return false;
    }
    l.n++;
    const ev: AuditEvent = { ts: t, kind: e.kind, actor: e.actor };
    if (e.ip !== undefined) ev.ip = e.ip;
    if (e.target !== undefined) ev.target = e.target.slice(0, 256);
    if (e.detail !== undefined) ev.detail = e.detail.slice(0, 512);
    if (l.suppressed > 0) {
      ev.suppressed = l.suppressed;
      l.suppressed = 0;
    }
    this.events.push(ev);
    if (this.events.length > this.keep) this.events.splice(0, this.events.length - this.keep);
    this.append(JSON.stringify(ev));
    return true;
  }

  private pruneLimiter(t: number): void {
    for (const [k, v] of this.limiter) if (t - v.windowStart >= this.windowMs && v.suppressed === 0) this.limiter.delete(k);
  }

  private append(line: string): void {
    const file = this.file;
    if (!file) return;
    this.pendingLines.push(line);
    if (this.pendingLines.length > 1) return;
    this.writing = this.writing.then(async () => {
      const lines = this.pendingLines;
      this.pendingLines = [];
      const text = `${lines.join('\n')}\n`;
      try {
        if (this.bytes + text.length > this.maxFileBytes) {
          await rename(file, `${file}.1`).catch(() => undefined);
          this.bytes = 0;
        }
        await appendFile(file, text, { mode: 0o600 });
        this.bytes += Buffer.byteLength(text);
      } catch {
        // the in-memory copy still answers queries; the server's own log reports disk errors elsewhere
      }
    });
  }

  /** Matching events, newest first. */
  query(q: AuditQuery = {}): AuditEvent[] {
    const limit = Math.min(Math.max(q.limit ?? 500, 1), this.keep);
    const kinds = q.kind && q.kind.length ? new Set(q.kind) : null;
    const out: AuditEvent[] = [];
    for (let i = this.events.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.events[i]!;
      if (kinds && !kinds.has(e.kind)) continue;
      if (q.actor !== undefined && e.actor !== q.actor) continue;
      if (q.from !== undefined && e.ts < q.from) continue;
      if (q.to !== undefined && e.ts > q.to) continue;
      out.push(e);
    }
    return out;
  }

  /** Waits until every recorded event is on disk. */
  async flush(): Promise<void> {
    let w: Promise<void>;
    do {
      w = this.writing;
      await w;
    } while (w !== this.writing);
  }
}
