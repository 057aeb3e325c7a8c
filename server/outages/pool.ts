/**
 * The outage pool service (docs/outages.md): holds plans, measured outages,
 * findings and tickets; journals every change (journal.ts) and rebuilds from
 * the journal at start; once per `tickMs` reads the correlation's outage
 * alarms and the meters' latest readings and lets the pure core decide
 * (measured.ts, reconcile.ts, mismatch.ts); sends notices through the
 * notification port; raises its alarms through the alarm lifecycle. The
 * operator's actions and the views are in pool-actions.ts.
 */
import type { Logger } from 'pino';
import type { Alarm, AlarmOp } from '../rules/index.ts';
import type { Suppression } from '../rules/outage.ts';
import type { AuditLog } from '../audit.ts';
import type { Notifier, NotifyRequest } from '../notify/index.ts';
import type { Grid } from './grid.ts';
import type { PoolWrite } from './pool-actions.ts';
import type { PoolEntityKind, PoolEntry, PoolJournal } from './journal.ts';
import { deriveOutages, type DarkCondition } from './measured.ts';
import { foldFindings, observe } from './mismatch.ts';
import { foldLossFindings } from './loss-findings.ts';
import type { LineLossRecord } from '../energy/types.ts';
import { composeNotices, outageVars, planVars } from './notices.ts';
import { classify, planAlarms, plannedSuppressions, scopeHasSupply, stepPlan, verifyRestoration } from './reconcile.ts';
import { sampleSupply, type LatestReading } from './supply.ts';
import type { Finding, MeterSupply, OutageOptions, OutageRecord, OwedNotices, Plan, Ticket } from './types.ts';

/** What the pool needs of the alarm service. */
export interface PoolAlarms {
  current(): readonly Alarm[];
  alarm(alarmId: string): Readonly<Alarm> | undefined;
  applyExternal(op: AlarmOp): unknown;
  setExternalSuppressions(fn: (now: number) => Suppression[]): void;
}

export interface PoolDeps {
  journal: PoolJournal;
  alarms: PoolAlarms;
  /** every device's latest reading (the live hub) */
  live: { latest(): readonly LatestReading[] };
  notifier: Notifier | null;
  audit: Pick<AuditLog, 'record'> | null;
  grid: Grid;
  log: Logger;
  options: OutageOptions & { hotline: string; tzOffsetMin: number };
  clock?: () => number;
}

export class OutagePool {
  readonly plans = new Map<string, Plan>();
  readonly records = new Map<string, OutageRecord>();
  /** by meter: the open finding, else the last one */
  readonly findings = new Map<string, Finding>();
  /** every finding ever made, by id (each as it is now): the history, rebuilt from the journal at start */
  readonly findingHistory = new Map<string, Finding>();
  readonly tickets = new Map<string, Ticket>();
  readonly supplies = new Map<string, MeterSupply>();
  grid: Grid;
  readonly clock: () => number;
  readonly log: Logger;
  private seq = 0;
  private readonly counters: Record<PoolEntityKind, number> = { plan: 0, outage: 0, finding: 0, ticket: 0 };
  private pending: PoolEntry[] = [];
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private planned: Suppression[] = [];
  /** `plan:<id>` / `outage:<id>` of the entities that owe notices (OwedNotices): handed over again each tick, also after a restart */
  private readonly owing = new Set<string>();
  /** hand-overs under way */
  private readonly handing = new Set<string>();
  /** cluster mode (server/outages/cluster.ts): whether this server runs the pool's automatic duties now */
  private active: () => boolean = () => true;
  /** cluster mode (server/outages/cluster.ts): an operator's change made here goes to the server running the pool's duties, unless that is this one */
  forward: ((w: PoolWrite) => Promise<unknown>) | null = null;
  /** cluster mode: every change committed here, for the other servers' views */
  private onCommitted: ((e: PoolEntry) => void) | null = null;

  constructor(readonly deps: PoolDeps) {
    this.grid = deps.grid;
    this.clock = deps.clock ?? Date.now;
    this.log = deps.log;
  }

  get options(): PoolDeps['options'] {
    return this.deps.options;
  }

  /**
   * Cluster mode, before the start: the ticks (detection, reconciliation,
   * notices owed, findings, plan alarms) run only while `fn` says so, and
   * every change committed here is handed to `committed`.
   */
  gate(fn: () => boolean, committed: (e: PoolEntry) => void): void {
    this.active = fn;
    this.onCommitted = committed;
  }

  /**
   * Forgets what is held and reads it again from the journal (at start, when
   * this server takes the pool's duties over, and every while on a server
   * without them: `unlessActive`, nothing replaced if it took them meanwhile).
   */
  async rebuild(opts: { unlessActive?: boolean } = {}): Promise<void> {
    await this.flush();
    // changes mirrored while the journal is read are applied again after it
    const during: PoolEntry[] = [];
    this.rebuilding = during;
    let seq: number;
    let entries: PoolEntry[];
    try {
      seq = await this.deps.journal.lastSeq();
      entries = await this.deps.journal.readCurrent();
    } finally {
      this.rebuilding = null;
    }
    // took the duties over while reading: what it committed meanwhile stays
    if (opts.unlessActive && this.active()) return;
    for (const m of [this.plans, this.records, this.findings, this.findingHistory, this.tickets]) m.clear();
    this.owing.clear();
    this.entitySeq.clear();
    for (const k of Object.keys(this.counters) as PoolEntityKind[]) this.counters[k] = 0;
    this.seq = seq;
    for (const e of entries) this.load(e);
    for (const e of during) this.mirror(e);
    this.refreshSuppressions(this.clock());
  }

  private rebuilding: PoolEntry[] | null = null;

  /** whether this server runs the pool's automatic duties (always, outside cluster mode) */
  runsDuties(): boolean {
    return this.active();
  }

  /** A change another server committed (cluster mode): held as if read from the journal. */
  mirror(e: PoolEntry): void {
    this.rebuilding?.push(e);
    // an older value than the one held (a journal re-read raced with it) is dropped
    if ((this.entitySeq.get(`${e.kind}:${e.id}`) ?? 0) > e.seq) return;
    this.seq = Math.max(this.seq, e.seq);
    this.load(e);
    if (e.kind === 'plan') this.refreshSuppressions(this.clock());
  }

  async start(): Promise<void> {
    await this.deps.journal.start();
    await this.rebuild();
    // asked at every correlation (every batch of readings): the list is kept, renewed each tick and on plan changes
    this.deps.alarms.setExternalSuppressions(() => this.planned);
    this.running = true;
    this.log.info({ plans: this.plans.size, outages: this.records.size, active: [...this.records.values()].filter((r) => r.state === 'active').length, seq: this.seq }, 'outage pool rebuilt from its journal');
    this.timer = setInterval(() => this.tickNow(), this.options.tickMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush(10_000);
    await this.deps.journal.stop();
  }

  /** `<kind>:<id>` → seq of the entry held */
  private readonly entitySeq = new Map<string, number>();

  private load(e: PoolEntry): void {
    this.entitySeq.set(`${e.kind}:${e.id}`, e.seq);
    const n = Number(/(\d+)$/.exec(e.id)?.[1] ?? 0);
    this.counters[e.kind] = Math.max(this.counters[e.kind], n);
    if (e.kind === 'plan' || e.kind === 'outage') {
      if ((e.data as Plan | OutageRecord).handOver?.length) this.owing.add(`${e.kind}:${e.id}`);
      else this.owing.delete(`${e.kind}:${e.id}`);
    }
    if (e.kind === 'plan') this.plans.set(e.id, e.data as Plan);
    else if (e.kind === 'outage') this.records.set(e.id, e.data as OutageRecord);
    else if (e.kind === 'finding') {
      const f = e.data as Finding;
      this.findingHistory.set(f.id, f);
      // the open finding of a meter stays shown over an older resolved one, but its own resolution replaces it
      const cur = this.findings.get(f.meter);
      if (f.state === 'open' || cur?.state !== 'open' || cur.id === f.id) this.findings.set(f.meter, f);
    } else this.tickets.set(e.id, e.data as Ticket);
  }

  newId(kind: PoolEntityKind): string {
    const prefix = { plan: 'P', outage: 'O', finding: 'F', ticket: 'T' }[kind];
    return `${prefix}${++this.counters[kind]}`;
  }

  /**
   * Line-loss figures (server/energy): a negative hourly loss opens a finding on the area, a normal one after it
   * resolves it (loss-findings.ts).
   */
  onLineLoss(records: readonly LineLossRecord[]): void {
    for (const f of foldLossFindings(this.findings, records, () => this.newId('finding'), this.clock())) {
      const isNew = this.findings.get(f.meter)?.id !== f.id;
      this.commit('finding', f, isNew ? `opened: ${f.message}` : f.state === 'resolved' ? `resolved: ${f.comment ?? ''}` : 'more evidence', 'system');
    }
  }

  /** Records a change in memory and queues it for the journal. */
  commit(kind: PoolEntityKind, data: Plan | OutageRecord | Finding | Ticket, what: string, by: string): void {
    const at = this.clock();
    const e: PoolEntry = { seq: ++this.seq, at, kind, id: data.id, what, by, data };
    this.load(e);
    this.pending.push(e);
    this.onCommitted?.(e);
    this.log.info({ kind, id: data.id, what, by, seq: e.seq }, 'outage pool change');
    if (kind === 'plan') this.refreshSuppressions(at);
    if (kind === 'plan' && by !== 'system') this.deps.audit?.record({ kind: 'outage_plan_changed', actor: by, target: data.id, detail: what });
    void this.write();
  }

  /** Writes queued entries in order; retried until stored. */
  private write(): Promise<void> {
    if (this.writing) return this.writing;
    this.writing = (async () => {
      while (this.pending.length) {
        const batch = this.pending.slice(0, 200);
        try {
          await this.deps.journal.append(batch);
          this.pending.splice(0, batch.length);
        } catch (err) {
          this.log.warn({ err, pending: this.pending.length }, 'outage journal write failed; retrying');
          if (!this.running) break;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })().finally(() => (this.writing = null));
    return this.writing;
  }

  /** Resolves true once every change so far is journaled. */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.pending.length && Date.now() < until) {
      await this.write();
      // stopped with the journal failing: write() gives up after one attempt, so pace the next
      if (this.pending.length) await new Promise((r) => setTimeout(r, 200));
    }
    return this.pending.length === 0;
  }

  async send(reqs: NotifyRequest[], what: string): Promise<void> {
    if (reqs.length === 0) return;
    if (!this.deps.notifier) {
      this.log.warn({ what, messages: reqs.length }, 'no notification service configured: notices not sent');
      return;
    }
    try {
      const r = await this.deps.notifier.enqueue(reqs);
      this.log.info({ what, accepted: r.accepted.length, duplicates: r.duplicates.length, rejected: r.rejected.length }, 'notices handed to the notification service');
      if (r.rejected.length) this.log.warn({ what, rejected: r.rejected.slice(0, 10) }, 'notices refused by the notification service');
    } catch (err) {
      this.log.error({ err, what, messages: reqs.length }, 'notices not handed over');
      throw err;
    }
  }

  /**
   * Commits a change of a plan or outage that owes notices: what is owed goes
   * into the same journal entry, then is handed over without waiting. Taken →
   * an entry clears it; not taken (the notification service failed) → handed
   * over again at each tick and, from the journal, after a restart.
   */
  commitOwing<K extends 'plan' | 'outage'>(kind: K, data: K extends 'plan' ? Plan : OutageRecord, what: string, by: string, owed: OwedNotices): void {
    if (owed.customers.length === 0 || !this.deps.notifier) {
      this.commit(kind, data, what, by);
      // without a notification service: said in the log, nothing owed
      if (owed.customers.length) void this.send(this.compose(kind, data, owed), `${owed.purpose} ${data.id}`);
      return;
    }
    this.commit(kind, { ...data, handOver: [...(data.handOver ?? []), owed] }, what, by);
    this.handOver(kind, data.id);
  }

  private compose(kind: 'plan' | 'outage', e: Plan | OutageRecord, owed: OwedNotices): NotifyRequest[] {
    if (kind === 'plan') return this.planNotices(e as Plan, owed.purpose as 'outage_planned' | 'outage_cancelled' | 'outage_extended', owed.customers);
    return composeNotices({ kind: 'outage', id: e.id }, owed.purpose, owed.customers, this.grid, outageVars(e as OutageRecord, this.grid, this.options.hotline, this.options.tzOffsetMin));
  }

  /** Hands over what an entity owes; once taken, an entry clears it. A failure leaves it owed. */
  private handOver(kind: 'plan' | 'outage', id: string): void {
    const key = `${kind}:${id}`;
    const e = kind === 'plan' ? this.plans.get(id) : this.records.get(id);
    const owed = e?.handOver ?? [];
    if (!e || owed.length === 0 || this.handing.has(key)) return;
    this.handing.add(key);
    const what = owed.map((o) => `${o.purpose} (${o.customers.length} customers)`).join(', ');
    void this.send(owed.flatMap((o) => this.compose(kind, e, o)), `${what} ${id}`)
      .then(() => {
        const cur = kind === 'plan' ? this.plans.get(id) : this.records.get(id);
        if (!cur) return;
        const left = (cur.handOver ?? []).filter((h) => !owed.includes(h));
        const { handOver: _done, ...rest } = cur;
        this.commit(kind, (left.length ? { ...rest, handOver: left } : rest) as Plan & OutageRecord, `notices handed over: ${what}`, 'system');
      })
      .catch(() => undefined)
      .finally(() => this.handing.delete(key));
  }

  planNotices(p: Plan, purpose: 'outage_planned' | 'outage_cancelled' | 'outage_extended', customers: readonly string[]): NotifyRequest[] {
    return composeNotices({ kind: 'plan', id: p.id }, purpose, customers, this.grid, planVars(p, this.grid, this.options.hotline, this.options.tzOffsetMin));
  }

  supply = (meter: string): MeterSupply | undefined => this.supplies.get(meter);

  // ---------------------------------------------------------------- evaluation

  tickNow(): void {
    if (!this.running || !this.active()) return;
    try {
      this.tick(this.clock());
    } catch (err) {
      this.log.error({ err }, 'outage pool tick failed');
    }
  }

  tick(now: number): void {
    const o = this.options;
    for (const key of this.owing) {
      const [kind, id] = key.split(':') as ['plan' | 'outage', string];
      this.handOver(kind, id);
    }
    // every latest value once, then the grid's meters by key: a device filter would be readings × meters
    const latest = new Map<string, LatestReading>();
    for (const r of this.deps.live.latest()) if (this.grid.meters.has(r.device)) latest.set(r.device, r);
    for (const m of this.grid.meters.keys()) this.supplies.set(m, sampleSupply(this.supplies.get(m), latest.get(m), now, o));

    const conditions: DarkCondition[] = [];
    for (const a of this.deps.alarms.current()) {
      const d = a.detail;
      if (!a.active || a.level !== 'dark' || !d || (d.scope !== 'transformer' && d.scope !== 'meter')) continue;
      conditions.push({ alarmId: a.alarmId, scope: d.scope, site: String(d.site ?? ''), transformer: String(d.transformer ?? ''), meters: Array.isArray(d.meters) ? d.meters.map(String) : [], source: a.source, since: a.activeSince ?? a.since });
    }
    const recent = [...this.records.values()].filter((r) => r.state === 'active' || (r.state === 'restored' && r.end !== undefined && now - r.end <= o.nestedWithinS * 1000));
    const { opened, changed } = deriveOutages(recent, conditions, this.grid, now, o.nestedWithinS * 1000, () => this.newId('outage'));
    for (const r of opened) {
      const c = classify(r, this.plans.values(), this.grid, o);
      const rec: OutageRecord = { ...r, ...c };
      this.commit('outage', rec, `${rec.scope.kind} outage (${rec.cause}${rec.planId ? ` ${rec.planId}` : ''}${rec.nested ? `, nested in ${rec.nested}` : ''}): ${rec.customers.length} customers`, 'system');
      if (rec.planId) {
        const p = this.plans.get(rec.planId)!;
        this.commit('plan', { ...p, outages: [...p.outages, rec.id] }, `measured outage ${rec.id} reconciled`, 'system');
      }
      if (rec.cause === 'fault')
        for (const id of rec.alarmIds)
          if (this.deps.alarms.alarm(id)?.active)
            this.deps.alarms.applyExternal({ op: 'comment', alarmId: id, by: 'outage-pool', comment: `fault outage ${rec.id}: ${rec.customers.length} customers (${rec.important} important): ${rec.customers.slice(0, 20).join(', ')}${rec.customers.length > 20 ? ' …' : ''}` });
    }
    for (const r of changed) {
      let rec = r;
      let what = r.state === 'merged' ? `merged into ${r.mergedInto}` : r.state === 'restored' ? 'restored' : 'extended';
      if (r.state === 'restored' && this.records.get(r.id)?.state === 'active') {
        const restoration = verifyRestoration(r, this.grid, this.supply);
        rec = { ...r, restoration };
        what = `restored: ${restoration.back.length} customers measured back, ${restoration.dark.length} still dark, ${restoration.unmeasured.length} not measured`;
        this.commitOwing('outage', rec, what, 'system', { purpose: 'outage_restored', customers: restoration.back });
        continue;
      }
      this.commit('outage', rec, what, 'system');
    }

    // plans: measured and time-driven transitions
    for (const p of [...this.plans.values()]) {
      const linked = p.outages.map((id) => this.records.get(id)).filter((r): r is OutageRecord => r !== undefined);
      const step = stepPlan(p, linked, scopeHasSupply(p, this.grid, this.supply), now, o);
      if (!step) continue;
      if (step.notify) this.commitOwing('plan', step.plan, step.what, 'system', { purpose: step.notify.purpose, customers: step.notify.customers });
      else this.commit('plan', step.plan, step.what, 'system');
    }

    // topology mismatch
    const active = [...this.records.values()].filter((r) => r.state === 'active');
    const open = new Map([...this.findings].filter(([, f]) => f.state === 'open'));
    for (const f of foldFindings(open, observe(active, this.grid, this.supplies, now, o), this.grid, () => this.newId('finding'))) {
      const isNew = !open.has(f.meter);
      this.commit('finding', f, isNew ? `opened: ${f.message}` : 'more evidence', 'system');
      for (const ev of f.evidence) {
        const r = this.records.get(ev.outageId);
        if (r && !r.findings.includes(f.id)) this.commit('outage', { ...r, findings: [...r.findings, f.id] }, `finding ${f.id}`, 'system');
      }
    }
    this.syncAlarms(now);
    this.refreshSuppressions(now);
  }

  private refreshSuppressions(now: number): void {
    this.planned = plannedSuppressions(this.plans.values(), this.grid, now, this.options);
  }

  /** The plan alarms as the plans say they should be. */
  private syncAlarms(now: number): void {
    for (const a of planAlarms(this.plans.values(), this.grid, now)) {
      const cur = this.deps.alarms.alarm(a.alarmId);
      if (a.active && !cur?.active)
        this.deps.alarms.applyExternal({ op: 'raise', alarmId: a.alarmId, severity: a.severity, level: a.ruleId, message: a.message, detail: { scope: 'plan', planId: a.planId } });
      else if (!a.active && cur?.active) this.deps.alarms.applyExternal({ op: 'clear', alarmId: a.alarmId });
    }
  }
}
