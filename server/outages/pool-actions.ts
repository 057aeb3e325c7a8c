/**
 * The outage pool's operator actions and views (docs/outages.md, REST):
 * plans created, imported, edited, confirmed, cancelled; findings resolved;
 * repair calls studied; the lists and details the REST routes return.
 */
import { GridwatchError } from '../errors.ts';
import type { NoticeSummary } from '../notify/index.ts';
import { frequentOutages } from './frequent.ts';
import type { Grid } from './grid.ts';
import { customerHours } from './measured.ts';
import { parsePlanCsv, type ImportIssue } from './plan-csv.ts';
import { actOnPlan, elementName, newPlan, overlapping, planIssues, recomputeAffected, type PlanAction, type PlanInput } from './plans.ts';
import type { OutagePool } from './pool.ts';
import { studyTicket, type TicketInput } from './tickets.ts';
import type { Finding, OutageRecord, Plan, Ticket } from './types.ts';

export class PlanRejected extends GridwatchError {
  constructor(readonly issues: { field?: string; line?: number; reason: string }[], code: 'GW_ERR_PLAN_INVALID' | 'GW_ERR_PLAN_OVERLAP' = 'GW_ERR_PLAN_INVALID') {
    super(code, `plan rejected: ${issues.slice(0, 3).map((i) => `${i.line !== undefined ? `line ${i.line}: ` : ''}${i.field ? `${i.field}: ` : ''}${i.reason}`).join('; ')}${issues.length > 3 ? ` (+${issues.length - 3})` : ''}`);
  }
}

function checkInput(pool: OutagePool, input: PlanInput & { id?: string }, now: number, others: Iterable<Plan>): { issues: { field?: string; reason: string }[]; overlapWarnings: string[]; overlapRefused: boolean } {
  const issues = planIssues(input, pool.grid, now).map((i) => ({ field: i.field, reason: i.message }));
  const over = issues.length ? [] : overlapping(input, others, pool.grid);
  const text = over.map((q) => `overlaps plan ${q.id} (${q.scope.map(elementName).join(', ')}, ${new Date(q.start).toISOString()} – ${new Date(q.end).toISOString()})`);
  return { issues, overlapWarnings: pool.options.overlap === 'warn' ? text : [], overlapRefused: pool.options.overlap === 'refuse' && over.length > 0 && ((issues.push(...text.map((reason) => ({ field: 'scope', reason }))), true)) };
}

export function createPlan(pool: OutagePool, input: PlanInput, by: string): Plan {
  const now = pool.clock();
  const c = checkInput(pool, input, now, pool.plans.values());
  if (c.issues.length) throw new PlanRejected(c.issues, c.overlapRefused ? 'GW_ERR_PLAN_OVERLAP' : 'GW_ERR_PLAN_INVALID');
  const p = newPlan(pool.newId('plan'), input, pool.grid, by, now, pool.options, c.overlapWarnings);
  pool.commit('plan', p, `created (${p.customers.length} customers${p.late ? ', late notice' : ''})`, by);
  return p;
}

/** All rows or none: a file with any bad row imports nothing, and says every bad row with its line. */
export function importPlans(pool: OutagePool, text: string, by: string): Plan[] {
  const now = pool.clock();
  const { rows, issues } = parsePlanCsv(text, pool.options.tzOffsetMin);
  const all: ImportIssue[] = [...issues];
  const accepted: (Plan & { line: number })[] = [];
  let onlyOverlap = issues.length === 0;
  for (const r of rows) {
    // each row against the plans already there and the rows before it
    const c = checkInput(pool, r.input, now, [...pool.plans.values(), ...accepted]);
    if (c.issues.length && !c.overlapRefused) onlyOverlap = false;
    if (c.issues.length) all.push(...c.issues.map((i) => ({ line: r.line, reason: `${i.field}: ${i.reason}` })));
    else accepted.push({ ...newPlan(`row${r.line}`, r.input, pool.grid, by, now, pool.options, c.overlapWarnings), line: r.line });
  }
  if (all.length) throw new PlanRejected(all.sort((a, b) => a.line - b.line).map((i) => ({ line: i.line, reason: i.reason })), onlyOverlap ? 'GW_ERR_PLAN_OVERLAP' : 'GW_ERR_PLAN_INVALID');
  if (accepted.length === 0) throw new PlanRejected([{ line: 1, reason: 'no rows' }]);
  return accepted.map(({ line, ...p }) => {
    const plan = { ...p, id: pool.newId('plan') };
    pool.commit('plan', plan, `imported (CSV line ${line}, ${plan.customers.length} customers)`, by);
    return plan;
  });
}

/** An operator's change of the pool, as the REST routes make it (cluster mode: applied by the server running the pool's duties). */
export type PoolWrite =
  | { op: 'createPlan'; input: PlanInput; by: string }
  | { op: 'importPlans'; text: string; by: string }
  | { op: 'actOn'; id: string; action: PlanAction }
  | { op: 'resolveFinding'; id: string; by: string; comment?: string }
  | { op: 'createTicket'; input: TicketInput; by: string };

/** Applies an operator's change here; resolves once it is journaled. */
export async function applyWrite(pool: OutagePool, w: PoolWrite): Promise<unknown> {
  if (w.op === 'createPlan' || w.op === 'importPlans') {
    const out = w.op === 'createPlan' ? createPlan(pool, w.input, w.by) : importPlans(pool, w.text, w.by);
    await pool.flush();
    return out;
  }
  if (w.op === 'actOn') return actOn(pool, w.id, w.action);
  if (w.op === 'resolveFinding') return resolveFinding(pool, w.id, w.by, w.comment);
  return createTicket(pool, w.input, w.by);
}

/** Applies an operator's change here, or (cluster mode) on the server running the pool's duties, and answers what it answered. */
export function write(pool: OutagePool, w: { op: 'createPlan' } & PoolWrite): Promise<Plan>;
export function write(pool: OutagePool, w: { op: 'importPlans' } & PoolWrite): Promise<Plan[]>;
export function write(pool: OutagePool, w: { op: 'actOn' } & PoolWrite): Promise<Plan>;
export function write(pool: OutagePool, w: { op: 'resolveFinding' } & PoolWrite): Promise<Finding>;
export function write(pool: OutagePool, w: { op: 'createTicket' } & PoolWrite): Promise<Ticket>;
export function write(pool: OutagePool, w: PoolWrite): Promise<unknown> {
  return pool.forward ? pool.forward(w) : applyWrite(pool, w);
}

export function planOrThrow(pool: OutagePool, id: string): Plan {
  const p = pool.plans.get(id);
  if (!p) throw new GridwatchError('GW_ERR_PLAN_UNKNOWN', `no plan ${id}`);
  return p;
}

export async function actOn(pool: OutagePool, id: string, action: PlanAction): Promise<Plan> {
  const plan = planOrThrow(pool, id);
  const now = pool.clock();
  if (action.op === 'edit') {
    const c = checkInput(pool, { ...action.input, id }, now, pool.plans.values());
    if (c.issues.length) throw new PlanRejected(c.issues, c.overlapRefused ? 'GW_ERR_PLAN_OVERLAP' : 'GW_ERR_PLAN_INVALID');
  }
  const r = actOnPlan(plan, action, pool.grid, now, pool.options);
  if (!r.ok) throw new GridwatchError(r.code, r.message);
  if (r.notify?.purpose === 'outage_cancelled') {
    // the cancellation stands whatever the notification service says; its notices are owed until taken, across restarts too
    pool.commitOwing('plan', r.plan, r.what, action.by, { purpose: r.notify.purpose, customers: r.notify.customers });
  } else pool.commit('plan', r.plan, r.what, action.by);
  if (r.notify && r.notify.purpose !== 'outage_cancelled') {
    // a failure answers the operator; the plan stays confirmed and confirming again retries
    await pool.send(pool.planNotices(r.plan, r.notify.purpose, r.notify.customers), `${r.notify.purpose} ${id}`);
    if (pool.deps.notifier) pool.commit('plan', { ...r.plan, state: 'notified' }, `notices handed over (${r.notify.customers.length} customers)`, action.by);
  }
  await pool.flush();
  return pool.plans.get(id)!;
}

/** After a topology or customer reload: the open plans' lists recomputed; confirmed ones wait for a new confirmation. */
export function reloadGrid(pool: OutagePool, grid: Grid): Plan[] {
  pool.grid = grid;
  // cluster mode: the server running the pool's duties recomputes the lists (reload there too)
  if (!pool.runsDuties()) return [];
  const changed: Plan[] = [];
  for (const p of [...pool.plans.values()]) {
    const next = recomputeAffected(p, grid, pool.clock());
    if (!next) continue;
    const d = next.pendingChange;
    pool.commit('plan', next, d ? `affected list changed by a reload: +${d.added.length} −${d.removed.length}, confirm again` : 'affected list recomputed', 'system');
    changed.push(next);
  }
  return changed;
}

export async function resolveFinding(pool: OutagePool, id: string, by: string, comment?: string): Promise<Finding> {
  const f = [...pool.findings.values()].find((x) => x.id === id);
  if (!f) throw new GridwatchError('GW_ERR_FINDING_UNKNOWN', `no finding ${id}`);
  if (f.state === 'resolved') throw new GridwatchError('GW_ERR_PLAN_STATE', `finding ${id} is already resolved`);
  const next: Finding = { ...f, state: 'resolved', resolvedBy: by, resolvedAt: pool.clock(), ...(comment ? { comment } : {}) };
  pool.commit('finding', next, 'resolved', by);
  pool.deps.audit?.record({ kind: 'outage_finding_resolved', actor: by, target: id, detail: `meter ${f.meter}${comment ? `: ${comment.slice(0, 200)}` : ''}` });
  await pool.flush();
  return next;
}

export async function createTicket(pool: OutagePool, input: TicketInput, by: string): Promise<Ticket> {
  if (input.customer !== undefined && !pool.grid.customers.has(input.customer)) throw new GridwatchError('GW_ERR_TICKET_INVALID', `unknown customer ${input.customer}`);
  if (input.customer === undefined && input.meter === undefined && !input.address) throw new GridwatchError('GW_ERR_TICKET_INVALID', 'a repair call names a customer, a meter or an address');
  const active = [...pool.records.values()].filter((r) => r.state === 'active');
  const v = studyTicket(input, pool.grid, active, pool.supply, [...pool.tickets.values()], pool.options.repeatWindowH * 3_600_000);
  const t: Ticket = {
    id: pool.newId('ticket'),
    ...(input.customer !== undefined ? { customer: input.customer } : {}),
    ...(v.meter !== undefined ? { meter: v.meter } : {}),
    ...(input.address ? { address: input.address } : {}),
    site: v.site,
    time: input.time,
    text: input.text,
    verdict: v.verdict,
    ...(v.outageId !== undefined ? { outageId: v.outageId } : {}),
    repeatCount: v.repeatCount,
    evidence: v.evidence,
    createdBy: by,
    createdAt: pool.clock(),
  };
  pool.commit('ticket', t, `${t.verdict}${t.outageId ? ` to ${t.outageId}` : ''} (call ${t.repeatCount})`, by);
  if (t.outageId) {
    const r = pool.records.get(t.outageId)!;
    pool.commit('outage', { ...r, tickets: [...r.tickets, t.id] }, `repair call ${t.id} linked`, 'system');
  }
  await pool.flush();
  return t;
}

// ---------------------------------------------------------------- views

const EMPTY_SUMMARY: NoticeSummary = { queued: 0, sending: 0, sent: 0, delivered: 0, failed: 0, read: 0, total: 0 };

export function outageView(pool: OutagePool, r: OutageRecord, now: number) {
  const { customers, restoration: _r, alarmIds: _a, ...rest } = r;
  return { ...rest, customers: customers.length, customerHours: customerHours(r, now) };
}

export function planView(pool: OutagePool, p: Plan) {
  const { customers, confirmedCustomers, ...rest } = p;
  return { ...rest, customers: customers.length, confirmedCustomers: confirmedCustomers.length, noticeSummary: pool.deps.notifier?.summary('plan', p.id) ?? EMPTY_SUMMARY };
}

export function customerRows(pool: OutagePool, ids: readonly string[], ref?: { kind: string; id: string }) {
  const notices = ref && pool.deps.notifier ? pool.deps.notifier.byRef(ref.kind, ref.id) : [];
  return ids.map((id) => {
    const c = pool.grid.customers.get(id);
    const mine = notices.filter((m) => m.to.customer === id);
    return {
      id,
      name: c?.name ?? '',
      category: c?.category ?? 'other',
      important: c?.important ?? false,
      site: c?.site ?? '',
      transformer: c?.transformer ?? '',
      ...(c?.line !== undefined ? { line: c.line } : {}),
      contacts: c?.contacts ?? [],
      notices: mine.map((m) => ({ id: m.id, purpose: m.purpose, phone: m.to.phone, state: m.state, updatedAt: m.updatedAt })),
    };
  });
}

export function inWindow(x: { start: number; end?: number }, from: number | undefined, to: number | undefined): boolean {
  return (from === undefined || (x.end ?? Infinity) >= from) && (to === undefined || x.start < to);
}

export function frequent(pool: OutagePool, days: number, min: number) {
  return frequentOutages(pool.records.values(), pool.clock(), days, min).map((f) => {
    const c = pool.grid.customers.get(f.customer);
    return { ...f, name: c?.name ?? '', site: c?.site ?? '', transformer: c?.transformer ?? '', important: c?.important ?? false };
  });
}
