/**
 * Risk items in the running server (docs/risk.md, Closed loop): takes each
 * computation's station days, opens, assigns and notifies items, records
 * follow-ups and the center's verification, escalates overdue items. Every
 * step is on disk (items.jsonl) before it is applied or answered; at start
 * the items are rebuilt from it, and notices whose `notified` step is missing
 * (a crash between the two) are handed to the port again — their keys make
 * that once per person.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { RiskCode, RiskItem, RiskItemState, StationRiskDay } from '../../../contract/risk.ts';
import { GridwatchError } from '../../errors.ts';
import type { Person } from '../../notify/contacts.ts';
import type { Notifier, NotifyRequest } from '../../notify/index.ts';
import { ItemJournal, type ItemRecord } from './journal.ts';
import { applyStep, followUpStep, overdueSteps, stepsForDays, verifyStep, type ItemOptions, type ItemStep, type StationCodes } from './lifecycle.ts';
import { notifiedStep, withSteps } from './steps.ts';
import { assignFor, escalationNotices, leadersFor, openedNotices, type NoticeContext, type RoutingOptions } from './notices.ts';

export interface RiskItemsOptions extends ItemOptions, RoutingOptions {
  /** where the journal lives (`<dataDir>/risk`) */
  dir: string;
  /** overdue check period, ms */
  tickMs: number;
  notice: NoticeContext;
  /** the journal is compacted at start when it has more lines than twice the items and stations plus this */
  compactAbove: number;
}

/** Where the steps are kept: the JSONL file (journal.ts), or a stream the servers of a cluster share (../cluster-journal.ts). */
export interface ItemsJournal {
  readonly file: string;
  /** unreadable records skipped at the last read */
  skipped: number;
  open(): Promise<ItemRecord[]>;
  /** resolves once the records are kept; a shared journal refuses with JournalConflict when another server appended since the last sync */
  append(records: readonly ItemRecord[]): Promise<void>;
  compact(records: readonly ItemRecord[]): Promise<void>;
  close(): Promise<void>;
  /** a shared journal: what the other servers appended since the last read */
  sync?(): Promise<ItemRecord[]>;
}

/** A shared journal moved on since this server last read it: read, decide again. */
export class JournalConflict extends Error {
  constructor() {
    super('risk item journal: another server appended first');
  }
}

/** a change decided again at most this often when other servers keep appending first */
const CONFLICT_RETRIES = 20;
/** how often a shared journal is read for the other servers' steps, ms */
const SYNC_MS = 500;

export interface RiskItemsDeps {
  contacts: { list(): readonly Person[] };
  /** the notification port; null → nothing is sent (logged once) */
  notifier: Notifier | null;
  log: Logger;
  now?: () => number;
  /** default: the JSONL file in `dir` */
  journal?: ItemsJournal;
}

export interface ItemFilter {
  station?: string;
  state?: RiskItemState;
  /** the session's stations; null → all */
  sites: ReadonlySet<string> | null;
}

export class RiskItems {
  private readonly journal: ItemsJournal;
  /** whether this server opens, assigns, escalates and notifies (a cluster's risk lease holder; always when alone) */
  private active: () => boolean = () => true;
  private syncTimer: NodeJS.Timeout | null = null;
  private readonly items = new Map<string, RiskItem>();
  private codes: StationCodes = {};
  /** items whose last opening or escalation has no `notified` step yet */
  private readonly unnotified = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(
    private readonly o: RiskItemsOptions,
    private readonly deps: RiskItemsDeps,
  ) {
    this.journal = deps.journal ?? new ItemJournal(o.dir);
    this.now = deps.now ?? Date.now;
    this.log = deps.log;
  }

  async start(): Promise<void> {
    const records = await this.journal.open();
    for (const r of records) this.reduce(r);
    if (this.journal.skipped) this.log.warn({ skipped: this.journal.skipped, file: this.journal.file }, 'risk item journal: torn lines skipped');
    const live = this.items.size + Object.keys(this.codes).length;
    // a shared journal (a cluster's stream) is kept whole
    if (!this.journal.sync && records.length > 2 * live + this.o.compactAbove) {
      await this.journal.compact([...[...this.items.values()].map((item): ItemRecord => ({ t: 'item', item })), ...Object.entries(this.codes).map(([station, c]): ItemRecord => ({ t: 'code', station, ...c }))]);
      this.log.info({ records: records.length, items: this.items.size, stations: Object.keys(this.codes).length }, 'risk item journal compacted');
    }
    for (const it of this.items.values()) if (needsNotice(it)) this.unnotified.add(it.id);
    this.log.info({ items: this.items.size, open: this.openItems().length, unnotified: this.unnotified.size }, 'risk items rebuilt');
    if (!this.deps.notifier) this.log.warn('no notification port: risk item notices are not sent');
    this.timer = setInterval(() => void this.tick(), this.o.tickMs);
    this.timer.unref();
    if (this.journal.sync) {
      this.syncTimer = setInterval(() => void this.serial(async () => undefined).catch((err: unknown) => this.log.warn({ err }, 'reading the shared risk item journal failed; retried')), SYNC_MS);
      this.syncTimer.unref();
    }
    void this.tick();
  }

  /** In a cluster: whether this server holds the risk lease (server/risk/cluster-lease.ts); the others only read and take follow-ups and verifications. */
  setActive(fn: () => boolean): void {
    this.active = fn;
  }

  /** The risk lease was just taken: read what the previous holder left, owe the notices it did not record, run a tick. */
  async activate(): Promise<void> {
    await this.serial(async () => {
      for (const it of this.items.values()) if (needsNotice(it)) this.unnotified.add(it.id);
    });
    await this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.timer = this.syncTimer = null;
    await this.chain.catch(() => undefined);
    await this.journal.close();
  }

  // ---- reading ----

  get(id: string, sites: ReadonlySet<string> | null = null): RiskItem | undefined {
    const it = this.items.get(id);
    return it && (sites === null || sites.has(it.station)) ? it : undefined;
  }

  /** Newest first. */
  list(f: ItemFilter): RiskItem[] {
    return [...this.items.values()]
      .filter((it) => (f.sites === null || f.sites.has(it.station)) && (f.station === undefined || it.station === f.station) && (f.state === undefined || it.state === f.state))
      .sort((a, b) => b.openedAt - a.openedAt || (a.id < b.id ? 1 : -1));
  }

  openItems(): RiskItem[] {
    return [...this.items.values()].filter((it) => it.state !== 'closed');
  }

  /** Items of `station` not closed (the ranking's `openItems`). */
  openCount(station: string): number {
    let n = 0;
    for (const it of this.items.values()) if (it.station === station && it.state !== 'closed') n++;
    return n;
  }

  /** Items not closed, per station (for the ranking). */
  openCountByStation(): Map<string, number> {
    const m = new Map<string, number>();
    for (const it of this.openItems()) m.set(it.station, (m.get(it.station) ?? 0) + 1);
    return m;
  }

  // ---- changing ----

  /** A computation's station days (the risk service's `onComputed`). Resolves when the steps are on disk and their notices handed over. */
  onComputed(days: readonly StationRiskDay[]): Promise<RiskItem[]> {
    return this.serial(async () => {
      if (!this.active()) return [];
      const people = this.deps.contacts.list();
      const taken = new Set<string>();
      const out = stepsForDays(days, this.items, this.codes, {
        options: this.o,
        assign: (station) => assignFor(people, station, this.o),
        newId: (d) => {
          const base = `${d.day.replace(/-/g, '')}-${d.station}`;
          let id = base;
          for (let n = 2; this.items.has(id) || taken.has(id); n++) id = `${base}-${n}`;
          taken.add(id);
          return id;
        },
      });
      const records: ItemRecord[] = [];
      for (const [station, c] of Object.entries(out.codes))
        if (this.codes[station]?.code !== c.code || this.codes[station]?.day !== c.day) records.push({ t: 'code', station, code: c.code, day: c.day });
      for (const s of out.steps) records.push({ t: 'step', s });
      await this.commit(records);
      for (const id of out.opened) this.unnotified.add(id);
      if (out.opened.length) this.log.info({ items: out.opened }, 'risk items opened');
      await this.sendPending();
      return out.opened.map((id) => this.items.get(id)!);
    });
  }

  followUp(id: string, by: string, text: string, sites: ReadonlySet<string> | null): Promise<RiskItem> {
    return this.serial(async () => {
      const it = this.known(id, sites);
      const r = followUpStep(it, by, text, this.now());
      if (!r.ok) throw new GridwatchError('GW_ERR_RISK_ITEM_STATE', r.reason);
      await this.commit([{ t: 'step', s: r.step }]);
      return this.items.get(id)!;
    });
  }

  verify(id: string, by: string, accept: boolean, comment: string): Promise<RiskItem> {
    return this.serial(async () => {
      const it = this.known(id, null);
      const r = verifyStep(it, by, accept, comment, this.now(), this.o);
      if (!r.ok) throw new GridwatchError('GW_ERR_RISK_ITEM_STATE', r.reason);
      await this.commit([{ t: 'step', s: r.step }]);
      return this.items.get(id)!;
    });
  }

  /** Assigns items that had nobody once the directory has someone, escalates what is overdue, hands over notices still due; the timer calls it. */
  tick(): Promise<void> {
    return this.serial(async () => {
      if (!this.active()) return;
      const now = this.now();
      const people = this.deps.contacts.list();
      const assigned: ItemStep[] = [];
      for (const it of this.items.values()) {
        if (it.state === 'closed' || it.assignees.length) continue;
        const a = assignFor(people, it.station, this.o);
        if (a.assignees.length) assigned.push({ kind: 'assigned', id: it.id, at: now, by: 'system', assignees: a.assignees, text: a.text, ...(a.ev ? { ev: a.ev } : {}) });
      }
      if (assigned.length) {
        await this.commit(assigned.map((s) => ({ t: 'step', s })));
        for (const s of assigned) this.unnotified.add(s.id);
        this.log.info({ items: assigned.map((s) => s.id) }, 'risk items without assignees assigned from the contact directory');
      }
      const steps = overdueSteps(this.items.values(), now);
      if (steps.length) {
        await this.commit(steps.map((s) => ({ t: 'step', s })));
        for (const s of steps) this.unnotified.add(s.id);
        this.log.warn({ items: steps.map((s) => s.id) }, 'risk items overdue: escalated');
      }
      await this.sendPending();
    }).catch((err: unknown) => this.log.error({ err }, 'risk item tick failed; tried again on the next'));
  }

  // ---- internals ----

  private known(id: string, sites: ReadonlySet<string> | null): RiskItem {
    const it = this.get(id, sites);
    if (!it) throw new GridwatchError('GW_ERR_RISK_ITEM_UNKNOWN', `no risk item ${id}`);
    return it;
  }

  /** One change at a time; with a shared journal, decided on what the other servers appended, again when one appended first. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      for (let attempt = 1; ; attempt++) {
        await this.pull();
        try {
          return await fn();
        } catch (err) {
          if (!(err instanceof JournalConflict) || attempt >= CONFLICT_RETRIES) throw err;
          // servers that keep colliding back off by a random few ms, growing, so that one of them gets through
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 10 * attempt)));
        }
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The other servers' steps from a shared journal, applied. */
  private async pull(): Promise<void> {
    if (!this.journal.sync) return;
    for (const r of await this.journal.sync()) this.reduce(r);
  }

  private async commit(records: ItemRecord[]): Promise<void> {
    if (!records.length) return;
    await this.journal.append(records);
    for (const r of records) this.reduce(r);
  }

  private reduce(r: ItemRecord): void {
    if (r.t === 'code') this.codes[r.station] = { code: r.code, day: r.day };
    else if (r.t === 'item') this.items.set(r.item.id, withSteps(r.item));
    else this.items.set(r.s.id, applyStep(this.items.get(r.s.id), r.s));
  }

  /** Hands the opening or escalation notice of each item that has none recorded to the port, then records `notified`. */
  private async sendPending(): Promise<void> {
    const notifier = this.deps.notifier;
    if (!notifier || !this.unnotified.size) return;
    const people = this.deps.contacts.list();
    for (const id of [...this.unnotified]) {
      const it = this.items.get(id);
      const what = it && needsNotice(it);
      if (!it || !what) {
        this.unnotified.delete(id);
        continue;
      }
      let reqs: NotifyRequest[];
      if (what === 'opened') reqs = openedNotices(it, people, this.o.notice);
      else {
        const leaders = leadersFor(people, it.station, this.o);
        if (!leaders.length) this.log.warn({ itemId: id, station: it.station, roles: this.o.leaderRoles }, 'risk item escalated, but no leader in the contact directory to tell');
        reqs = escalationNotices(it, leaders, this.o.notice);
      }
      const r = await notifier.enqueue(reqs);
      for (const x of r.rejected) this.log.warn({ itemId: id, key: x.key, reason: x.reason }, 'risk item notice refused by the notification port');
      const ids = [...r.accepted, ...r.duplicates].map((m) => m.id);
      const step: ItemStep = { kind: 'notified', id, at: this.now(), by: 'system', messages: ids, ...notifiedStep(what, ids, r.rejected.map((x) => x.reason)) };
      await this.commit([{ t: 'step', s: step }]);
      this.unnotified.delete(id);
    }
  }
}

/** The notice an item still owes: after its opening, a (later) assignment or its last escalation, no `notified` step yet. */
function needsNotice(it: RiskItem): 'opened' | 'escalated' | null {
  for (let i = it.events.length - 1; i >= 0; i--) {
    const k = it.events[i]!.kind;
    if (k === 'notified') return null;
    if (k === 'escalated') return it.state === 'closed' ? null : 'escalated';
    if (k === 'opened' || k === 'assigned') return it.state === 'closed' && k === 'assigned' ? null : 'opened';
  }
  return null;
}

export function riskItemsDir(dataDir: string): string {
  return path.join(dataDir, 'risk');
}
