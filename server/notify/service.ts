/**
 * The notification service (docs/notifications.md): durable messages, a
 * rate-limited dispatcher towards one SMS gateway with retries and backoff,
 * crash recovery by lookup, delivery receipts and replies.
 *
 * The guarantee: a key is recorded once (enqueue resolves when it is on
 * disk); before a gateway call the message is durably `sending`; a message
 * found `sending` after a crash, or after a call whose outcome is unknown
 * (timeout, cut connection), is looked up at the gateway by its client
 * message id and only sent again when the gateway does not know it. With a
 * gateway that answers lookups, no message is sent twice.
 *
 * One file over 400 lines: enqueueing, dispatching, crash recovery and the
 * receipt/reply callbacks all change the same message table and its states
 * (events.ts holds the pure state changes, journal.ts the disk).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { PHONE_RE } from '../../contract/index.ts';
import { NotifyJournal, type JournalRecord, type OrphanEvent } from './journal.ts';
import { compose, DEFAULT_TEMPLATES, type Template } from './templates.ts';
import {
  NOTIFY_PURPOSES, type EnqueueResult, type GatewayEvent, type GatewayLookup, type GatewaySendResult, type MessageListener, type NoticeSummary,
  type Notifier, type NotifyMessage, type NotifyRequest, type SmsGateway,
} from './types.ts';
import { applyEvent, type EventOutcome } from './events.ts';

export interface NotifyOptions {
  /** where the journal lives (`<dataDir>/notify`) */
  dir: string;
  /** gateway requests per second (sends and lookups) */
  ratePerS: number;
  /** gateway requests in flight at most */
  concurrency: number;
  /** send attempts in all before a message is failed */
  maxAttempts: number;
  /** first retry delay, doubled each attempt, capped at retryMaxMs */
  retryBaseMs: number;
  retryMaxMs: number;
  lang: 'zh' | 'en';
  /** replaces or adds templates by id */
  templates?: Record<string, Template>;
  /** a reply naming no message is matched to the latest message to that phone sent within this window */
  replyWindowMs: number;
  /** final messages older than this are dropped when the journal is compacted at start */
  retentionDays: number;
  /** dispatcher wake-up, ms */
  tickMs?: number;
}

const PURPOSES = new Set<string>(NOTIFY_PURPOSES);

export class NotifyService implements Notifier {
  private readonly journal: NotifyJournal;
  private readonly templates: Record<string, Template>;
  private readonly messages = new Map<string, NotifyMessage>();
  private readonly byKeyMap = new Map<string, string>();
  private readonly byRefMap = new Map<string, string[]>();
  private readonly byGateway = new Map<string, string>();
  private readonly byPhone = new Map<string, string[]>();
  /** queued and due, in order */
  private readonly ready = new Set<string>();
  /** queued for later: id → not before (epoch ms) */
  private readonly delayed = new Map<string, number>();
  /** `sending` with an unknown outcome: id → next lookup (epoch ms) */
  private readonly resolving = new Map<string, number>();
  private readonly orphans = new Map<string, OrphanEvent>();
  private readonly listeners = new Set<MessageListener>();
  private inflight = 0;
  private tokens = 0;
  private lastRefill = 0;
  private timer: NodeJS.Timeout | null = null;
  private pumping = false;
  private again = false;
  private stopping = false;
  private idle: Array<() => void> = [];
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(
    private readonly o: NotifyOptions,
    private readonly deps: { gateway: SmsGateway | null; log: Logger; now?: () => number },
  ) {
    this.journal = new NotifyJournal(o.dir);
    this.templates = { ...DEFAULT_TEMPLATES, ...(o.templates ?? {}) };
    this.now = deps.now ?? Date.now;
    this.log = deps.log;
  }

  async start(): Promise<void> {
    const records = await this.journal.open();
    for (const r of records) this.reduce(r);
    if (this.journal.skipped) this.log.warn({ skipped: this.journal.skipped }, 'notify journal: torn lines skipped');
    const now = this.now();
    const cutoff = now - this.o.retentionDays * 86_400_000;
    let dropped = 0;
    for (const m of [...this.messages.values()]) {
      if ((m.state === 'delivered' || m.state === 'failed' || m.state === 'read') && m.updatedAt < cutoff) {
        this.forget(m);
        dropped++;
      }
    }
    if (dropped || records.length > 2 * (this.messages.size + this.orphans.size) + 1000) {
      const snap: JournalRecord[] = [...this.messages.values()].map((m) => ({ t: 'msg', m }));
      for (const e of this.orphans.values()) snap.push({ t: 'orphan', e });
      await this.journal.compact(snap);
      this.log.info({ records: records.length, messages: this.messages.size, dropped }, 'notify journal compacted');
    }
    for (const m of this.messages.values()) {
      this.index(m);
      if (m.state === 'queued') this.schedule(m, now);
      // outcome unknown: the process stopped between the intent and the answer
      else if (m.state === 'sending') this.resolving.set(m.id, now);
    }
    this.log.info({ messages: this.messages.size, queued: this.ready.size + this.delayed.size, resolving: this.resolving.size }, 'notify journal replayed');
    this.lastRefill = now;
    this.tokens = Math.min(1, this.o.ratePerS);
    this.timer = setInterval(() => this.pump(), this.o.tickMs ?? 50);
    this.timer.unref();
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.inflight > 0 || this.pumping) await new Promise<void>((r) => this.idle.push(r));
    await this.journal.close();
  }

  // ---- the port ----

  async enqueue(reqs: readonly NotifyRequest[]): Promise<EnqueueResult> {
    const out: EnqueueResult = { accepted: [], duplicates: [], rejected: [] };
    const now = this.now();
    const batchKeys = new Map<string, NotifyMessage>();
    reqs.forEach((r, index) => {
      const reason = this.invalid(r);
      if (reason) return out.rejected.push({ index, ...(typeof r?.key === 'string' ? { key: r.key } : {}), reason });
      const known = this.byKey(r.key) ?? batchKeys.get(r.key);
      if (known) return out.duplicates.push(known);
      const c = compose(this.templates, r.template, r.lang ?? this.o.lang, r.vars);
      if (!c.ok) return out.rejected.push({ index, key: r.key, reason: c.reason });
      const to = { ...r.to, phone: r.to.phone.replace(/[ -]/g, '') };
      const m: NotifyMessage = {
        id: randomBytes(12).toString('hex'), key: r.key, to, template: r.template, purpose: r.purpose, ref: { kind: r.ref.kind, id: r.ref.id },
        text: c.text, state: 'queued', attempts: 0, createdAt: now, updatedAt: now,
      };
      batchKeys.set(r.key, m);
      out.accepted.push(m);
    });
    if (!out.accepted.length) return out;
    await this.journal.append(out.accepted.map((m) => ({ t: 'msg', m })));
    for (const m of out.accepted) {
      this.messages.set(m.id, m);
      this.index(m);
      this.ready.add(m.id);
      this.emit(m);
    }
    this.pump();
    return out;
  }

  byRef(kind: string, id: string): NotifyMessage[] {
    return (this.byRefMap.get(`${kind}\u0000${id}`) ?? []).map((i) => this.messages.get(i)!).filter(Boolean);
  }

  byKey(key: string): NotifyMessage | undefined {
    const id = this.byKeyMap.get(key);
    return id === undefined ? undefined : this.messages.get(id);
  }

  byId(id: string): NotifyMessage | undefined {
    return this.messages.get(id);
  }

  summary(kind: string, id: string): NoticeSummary {
    const s: NoticeSummary = { queued: 0, sending: 0, sent: 0, delivered: 0, failed: 0, read: 0, total: 0 };
    for (const m of this.byRef(kind, id)) {
      s[m.state]++;
      s.total++;
    }
    return s;
  }

  onChange(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Messages, receipts pending, queue lengths: for /api/notify/status and the tests. */
  status() {
    const byState: Record<string, number> = {};
    for (const m of this.messages.values()) byState[m.state] = (byState[m.state] ?? 0) + 1;
    return { messages: this.messages.size, byState, ready: this.ready.size, delayed: this.delayed.size, resolving: this.resolving.size, inflight: this.inflight, orphans: this.orphans.size, gateway: this.deps.gateway !== null };
  }

  /** Receipts and replies from the callback routes; resolves when what they changed is on disk. */
  async handleEvents(events: readonly GatewayEvent[]): Promise<EventOutcome[]> {
    const now = this.now();
    const records: JournalRecord[] = [];
    const changed: NotifyMessage[] = [];
    const outcomes = events.map((e) => {
      const r = applyEvent(
        {
          find: (clientId, gatewayId) => (clientId ? this.messages.get(clientId) : undefined) ?? (gatewayId ? this.messages.get(this.byGateway.get(gatewayId) ?? '') : undefined),
          latestTo: (phone) => this.latestTo(phone, now),
          orphans: this.orphans,
        },
        e,
        now,
      );
      if (r.outcome === 'applied' && r.message && r.fields) {
        this.change(r.message, r.fields, records);
        changed.push(r.message);
      }
      if (r.outcome === 'kept' && r.orphan) {
        this.orphans.set(r.orphan.k, r.orphan);
        records.push({ t: 'orphan', e: r.orphan });
      }
      return r.outcome;
    });
    if (records.length) await this.journal.append(records);
    for (const m of changed) this.emit(m);
    return outcomes;
  }

  // ---- dispatcher ----

  private pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    if (this.stopping || !this.deps.gateway) return;
    this.pumping = true;
    void this.pumpOnce()
      .catch((err) => this.log.error({ err }, 'notify dispatcher failed; retried on the next tick'))
      .finally(() => {
        this.pumping = false;
        this.wake();
        if (this.again) {
          this.again = false;
          this.pump();
        }
      });
  }

  private async pumpOnce(): Promise<void> {
    const now = this.now();
    this.tokens = Math.min(Math.max(1, this.o.ratePerS), this.tokens + ((now - this.lastRefill) / 1000) * this.o.ratePerS);
    this.lastRefill = now;
    for (const [id, due] of this.delayed) if (due <= now) {
      this.delayed.delete(id);
      this.ready.add(id);
    }
    let room = Math.min(Math.floor(this.tokens), this.o.concurrency - this.inflight);
    const lookups: NotifyMessage[] = [];
    for (const [id, due] of this.resolving) {
      if (room <= 0) break;
      if (due > now) continue;
      this.resolving.delete(id);
      lookups.push(this.messages.get(id)!);
      room--;
    }
    const sends: NotifyMessage[] = [];
    const records: JournalRecord[] = [];
    for (const id of this.ready) {
      if (room <= 0) break;
      this.ready.delete(id);
      const m = this.messages.get(id)!;
      if (m.state !== 'queued') continue;
      this.change(m, { state: 'sending', attempts: m.attempts + 1 }, records, now);
      sends.push(m);
      room--;
    }
    const n = lookups.length + sends.length;
    if (!n) return;
    this.tokens -= n;
    this.inflight += n;
    // the intent is on disk before any of these calls leaves
    if (records.length) await this.journal.append(records);
    const gw = this.deps.gateway!;
    for (const m of lookups) void gw.lookup(m.id).then((r) => this.afterLookup(m, r), (e: Error) => this.afterLookup(m, { found: 'unknown', message: e.message }));
    for (const m of sends) {
      this.emit(m);
      void gw.send({ clientId: m.id, phone: m.to.phone, text: m.text }).then((r) => this.afterSend(m, r), (e: Error) => this.afterSend(m, { ok: false, retryable: true, code: 'ERROR', message: e.message, ambiguous: true }));
    }
  }

  private backoff(attempts: number): number {
    return Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.max(0, attempts - 1));
  }

  private afterSend(m: NotifyMessage, r: GatewaySendResult): void {
    const now = this.now();
    const records: JournalRecord[] = [];
    if (m.state !== 'sending') {
      // a receipt overtook the answer: keep its state, learn the gateway id
      if (r.ok && !m.gatewayId) this.change(m, { gatewayId: r.gatewayId }, records, now);
    } else if (r.ok) {
      this.change(m, { state: 'sent', gatewayId: r.gatewayId, sentAt: now }, records, now);
    } else if (r.ambiguous) {
      this.change(m, { error: `${r.code}: ${r.message}` }, records, now);
      this.resolving.set(m.id, now + this.backoff(m.attempts));
    } else {
      this.retryOrFail(m, `${r.code}: ${r.message}`, r.retryable, records, now);
    }
    this.finish(records);
  }

  private afterLookup(m: NotifyMessage, r: GatewayLookup): void {
    const now = this.now();
    const records: JournalRecord[] = [];
    if (m.state !== 'sending') {
      // resolved meanwhile by a receipt
    } else if (r.found === true) {
      const f: Partial<NotifyMessage> = { state: r.status === 'accepted' ? 'sent' : r.status, gatewayId: r.gatewayId, sentAt: m.sentAt ?? now };
      if (r.status === 'delivered') f.deliveredAt = now;
      if (r.status === 'failed') f.failedAt = now;
      this.change(m, f, records, now);
    } else if (r.found === false) {
      this.retryOrFail(m, m.error ?? 'not received by the gateway', true, records, now, true);
    } else {
      this.resolving.set(m.id, now + this.backoff(m.attempts));
    }
    this.finish(records);
  }

  private retryOrFail(m: NotifyMessage, error: string, retryable: boolean, records: JournalRecord[], now: number, immediately = false): void {
    if (retryable && m.attempts < this.o.maxAttempts) {
      const at = immediately ? now : now + this.backoff(m.attempts);
      this.change(m, { state: 'queued', error, nextAttemptAt: at }, records, now);
      this.schedule(m, now);
    } else {
      this.change(m, { state: 'failed', error, failedAt: now }, records, now);
    }
  }

  private finish(records: JournalRecord[]): void {
    this.inflight--;
    const changed = new Set<NotifyMessage>();
    for (const r of records) if (r.t === 'upd') changed.add(this.messages.get(r.id)!);
    if (records.length) {
      this.journal.append(records).catch((err) => this.log.error({ err }, 'notify journal write failed'));
    }
    for (const m of changed) this.emit(m);
    this.wake();
    this.pump();
  }

  private wake(): void {
    if (this.inflight > 0 || this.pumping) return;
    const w = this.idle;
    this.idle = [];
    for (const f of w) f();
  }

  // ---- state ----

  private change(m: NotifyMessage, f: Partial<NotifyMessage>, records: JournalRecord[], now = this.now()): void {
    const fields = { ...f, updatedAt: now };
    Object.assign(m, fields);
    if (f.gatewayId) this.adoptGatewayId(m, records);
    if (f.state && f.state !== 'queued') {
      this.ready.delete(m.id);
      this.delayed.delete(m.id);
    }
    if (f.state && f.state !== 'sending') this.resolving.delete(m.id);
    records.push({ t: 'upd', id: m.id, f: fields });
  }

  /** A gateway id learnt: a receipt that came before it is applied now. */
  private adoptGatewayId(m: NotifyMessage, records: JournalRecord[]): void {
    this.byGateway.set(m.gatewayId!, m.id);
    for (const [k, e] of this.orphans) {
      if (e.gatewayId !== m.gatewayId && e.clientId !== m.id) continue;
      this.orphans.delete(k);
      records.push({ t: 'orphan_done', k });
      const ev: GatewayEvent = e.kind === 'receipt'
        ? { type: 'receipt', clientId: m.id, status: e.status ?? 'delivered', at: e.at, ...(e.code ? { code: e.code } : {}) }
        : { type: 'reply', clientId: m.id, text: e.text ?? '', at: e.at };
      const r = applyEvent({ find: () => m, latestTo: () => undefined, orphans: new Map() }, ev, e.at);
      if (r.outcome === 'applied' && r.fields) {
        Object.assign(m, r.fields);
        records.push({ t: 'upd', id: m.id, f: r.fields });
      }
    }
  }

  private schedule(m: NotifyMessage, now: number): void {
    const at = m.nextAttemptAt ?? 0;
    if (at <= now) this.ready.add(m.id);
    else this.delayed.set(m.id, at);
  }

  private reduce(r: JournalRecord): void {
    switch (r.t) {
      case 'msg':
        this.messages.set(r.m.id, r.m);
        break;
      case 'upd': {
        const m = this.messages.get(r.id);
        if (m) Object.assign(m, r.f);
        break;
      }
      case 'orphan':
        this.orphans.set(r.e.k, r.e);
        break;
      case 'orphan_done':
        this.orphans.delete(r.k);
        break;
      default: {
        const never: never = r;
        void never;
      }
    }
  }

  private index(m: NotifyMessage): void {
    this.byKeyMap.set(m.key, m.id);
    const rk = `${m.ref.kind}\u0000${m.ref.id}`;
    const list = this.byRefMap.get(rk);
    if (list) list.push(m.id);
    else this.byRefMap.set(rk, [m.id]);
    if (m.gatewayId) this.byGateway.set(m.gatewayId, m.id);
    const pl = this.byPhone.get(m.to.phone);
    if (pl) pl.push(m.id);
    else this.byPhone.set(m.to.phone, [m.id]);
  }

  private forget(m: NotifyMessage): void {
    this.messages.delete(m.id);
  }

  private latestTo(phone: string, now: number): NotifyMessage | undefined {
    const ids = this.byPhone.get(phone.replace(/^\+86/, '').replace(/[ -]/g, '')) ?? this.byPhone.get(phone) ?? [];
    for (let i = ids.length - 1; i >= 0; i--) {
      const m = this.messages.get(ids[i]!);
      if (m && (m.state === 'sent' || m.state === 'delivered' || m.state === 'read') && now - (m.sentAt ?? m.createdAt) <= this.o.replyWindowMs) return m;
    }
    return undefined;
  }

  private invalid(r: NotifyRequest): string | null {
    if (!r || typeof r !== 'object') return 'not an object';
    if (typeof r.key !== 'string' || !r.key || r.key.length > 200) return 'key must be a string of 1-200 characters';
    if (!r.to || typeof r.to.phone !== 'string' || !PHONE_RE.test(r.to.phone)) return `to.phone must be a phone number`;
    if (!PURPOSES.has(r.purpose)) return `unknown purpose "${String(r.purpose)}"`;
    if (!r.ref || typeof r.ref.kind !== 'string' || typeof r.ref.id !== 'string' || !r.ref.kind || !r.ref.id) return 'ref must be { kind, id }';
    if (typeof r.template !== 'string') return 'template must be a template id';
    if (!r.vars || typeof r.vars !== 'object') return 'vars must be an object';
    return null;
  }

  private emit(m: NotifyMessage): void {
    for (const l of this.listeners) {
      try {
        l(m);
      } catch (err) {
        this.log.warn({ err }, 'notify listener failed');
      }
    }
  }
}
