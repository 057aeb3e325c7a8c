/**
 * Planned outages (pure): input validation, overlap and late-notice checks,
 * the operator's transitions (confirm, cancel, edit a draft) and the affected
 * list after a reload. The time- and measurement-driven transitions are in
 * reconcile.ts. Every function takes `now`; none reads a clock.
 */
import type { Grid } from './grid.ts';
import type { OutageOptions, Plan, PlanScopeElement, PlanState } from './types.ts';

export interface PlanInput {
  scope: PlanScopeElement[];
  start: number;
  end: number;
  reason: string;
  workOrder: string;
  crew: string;
}

export type PlanIssue = { field: string; message: string };

/** States in which a plan still claims its window (overlap, reconciliation). */
export const OPEN_PLAN_STATES: readonly PlanState[] = ['draft', 'confirmed', 'notified', 'in_progress'];
/** States in which a measured outage can be this plan. */
export const COVERING_PLAN_STATES: readonly PlanState[] = ['confirmed', 'notified', 'in_progress', 'overrun', 'not_executed'];

const MAX_WINDOW_MS = 7 * 86_400_000;

/** Everything wrong with a plan input at once; empty when it may be saved. */
export function planIssues(p: PlanInput, grid: Grid, now: number): PlanIssue[] {
  const out: PlanIssue[] = [];
  if (p.scope.length === 0) out.push({ field: 'scope', message: 'names no feeder, transformer or line' });
  p.scope.forEach((e, i) => {
    if (!grid.known(e)) out.push({ field: `scope[${i}]`, message: `unknown ${e.kind} ${elementName(e)}` });
  });
  if (!Number.isFinite(p.start) || !Number.isFinite(p.end)) out.push({ field: 'start', message: 'start and end must be times' });
  else {
    if (p.end <= p.start) out.push({ field: 'end', message: 'must be after start' });
    if (p.end - p.start > MAX_WINDOW_MS) out.push({ field: 'end', message: 'a planned outage lasts at most 7 days' });
    if (p.end <= now) out.push({ field: 'end', message: 'is in the past' });
  }
  if (p.reason.trim() === '') out.push({ field: 'reason', message: 'is empty' });
  return out;
}

export function elementName(e: PlanScopeElement): string {
  return e.kind === 'feeder' ? e.feeder : e.kind === 'transformer' ? `${e.site}/${e.transformer}` : `${e.site}/${e.line}`;
}

/** The notice lead is shorter than configured (confirmation at `now`, start at `start`). */
export function isLate(start: number, now: number, opts: Pick<OutageOptions, 'noticeLeadDays'>): boolean {
  return start - now < opts.noticeLeadDays * 86_400_000;
}

/** Units a plan element claims: transformers (`t:site/x`) and lines (`l:site/x`, with their transformer). */
function units(scope: readonly PlanScopeElement[], grid: Grid): { transformers: Set<string>; lines: Map<string, string> } {
  const transformers = new Set<string>();
  const lines = new Map<string, string>();
  for (const e of scope) {
    if (e.kind === 'line') {
      const l = grid.lines.get(`${e.site}/${e.line}`);
      if (l) lines.set(l.key, `${l.site}/${l.transformer}`);
    } else for (const t of grid.transformersOf(e)) transformers.add(t);
  }
  return { transformers, lines };
}

/** The open plans whose window and scope meet this one's. */
export function overlapping(p: PlanInput & { id?: string }, plans: Iterable<Plan>, grid: Grid): Plan[] {
  const mine = units(p.scope, grid);
  const out: Plan[] = [];
  for (const q of plans) {
    if (q.id === p.id || !OPEN_PLAN_STATES.includes(q.state)) continue;
    if (!(q.start < p.end && p.start < q.end)) continue;
    const theirs = units(q.scope, grid);
    const meet =
      [...mine.transformers].some((t) => theirs.transformers.has(t)) ||
      [...mine.lines].some(([l, t]) => theirs.lines.has(l) || theirs.transformers.has(t)) ||
      [...theirs.lines.values()].some((t) => mine.transformers.has(t));
    if (meet) out.push(q);
  }
  return out;
}

export type PlanAction =
  | { op: 'confirm'; by: string; customers?: number }
  | { op: 'cancel'; by: string; reason?: string }
  | { op: 'edit'; by: string; input: PlanInput };

export type PlanActionResult =
  | { ok: true; plan: Plan; what: string; notify: { purpose: 'outage_planned' | 'outage_cancelled'; customers: string[] } | null }
  | { ok: false; code: 'GW_ERR_PLAN_STATE' | 'GW_ERR_PLAN_STALE'; message: string };

/**
 * An operator's action on a plan. Confirm: the computed list is taken (its
 * count, when given, must be the one shown), notices go to the customers not
 * yet notified. Cancel: customers already notified get a cancellation notice.
 * Edit: drafts only; the caller validated the input.
 */
export function actOnPlan(plan: Plan, action: PlanAction, grid: Grid, now: number, opts: Pick<OutageOptions, 'noticeLeadDays'>): PlanActionResult {
  switch (action.op) {
    case 'confirm': {
      // confirmed but not notified: the notices were not handed over (the notification service failed): confirming again retries them
      const again = plan.state === 'confirmed' || (plan.state === 'notified' && plan.pendingChange !== null);
      if (plan.state !== 'draft' && !again) return refuse(plan, 'confirm');
      if (now >= plan.end) return { ok: false, code: 'GW_ERR_PLAN_STATE', message: `plan ${plan.id}: its window is over` };
      const customers = grid.customersOf(plan.scope);
      if (action.customers !== undefined && action.customers !== customers.length)
        return { ok: false, code: 'GW_ERR_PLAN_STALE', message: `plan ${plan.id}: the affected list has ${customers.length} customers now, not ${action.customers}; look again and confirm` };
      const before = new Set(plan.confirmedCustomers);
      const added = plan.state === 'confirmed' && plan.pendingChange === null ? customers : customers.filter((c) => !before.has(c));
      const late = plan.late || isLate(plan.start, now, opts);
      const next: Plan = { ...plan, state: 'confirmed', customers, confirmedCustomers: customers, pendingChange: null, confirmedBy: action.by, confirmedAt: now, late };
      if (late && !plan.warnings.includes('late_notice')) next.warnings = [...plan.warnings, 'late_notice'];
      return { ok: true, plan: next, what: again ? `confirmed again (${added.length} added)` : `confirmed (${customers.length} customers)`, notify: { purpose: 'outage_planned', customers: added } };
    }
    case 'cancel': {
      if (!(['draft', 'confirmed', 'notified', 'not_executed'] as PlanState[]).includes(plan.state)) return refuse(plan, 'cancel');
      const next: Plan = { ...plan, state: 'cancelled', cancelledBy: action.by, cancelledAt: now, pendingChange: null };
      if (action.reason) next.cancelReason = action.reason;
      const told = plan.state === 'draft' ? [] : plan.confirmedCustomers;
      return { ok: true, plan: next, what: 'cancelled', notify: told.length ? { purpose: 'outage_cancelled', customers: told } : null };
    }
    case 'edit': {
      if (plan.state !== 'draft') return refuse(plan, 'edit');
      const i = action.input;
      const next: Plan = { ...plan, scope: i.scope, start: i.start, end: i.end, reason: i.reason, workOrder: i.workOrder, crew: i.crew, sites: grid.sitesOf(i.scope), customers: grid.customersOf(i.scope), late: isLate(i.start, now, opts) };
      return { ok: true, plan: next, what: 'edited', notify: null };
    }
  }
}

function refuse(plan: Plan, what: string): PlanActionResult {
  return { ok: false, code: 'GW_ERR_PLAN_STATE', message: `plan ${plan.id} is ${plan.state}: cannot ${what}` };
}

/** A new draft. */
export function newPlan(id: string, input: PlanInput, grid: Grid, by: string, now: number, opts: Pick<OutageOptions, 'noticeLeadDays'>, warnings: string[] = []): Plan {
  const late = isLate(input.start, now, opts);
  return {
    id,
    sites: grid.sitesOf(input.scope),
    scope: input.scope,
    start: input.start,
    end: input.end,
    reason: input.reason,
    workOrder: input.workOrder,
    crew: input.crew,
    state: 'draft',
    late,
    customers: grid.customersOf(input.scope),
    confirmedCustomers: [],
    pendingChange: null,
    createdBy: by,
    createdAt: now,
    outages: [],
    warnings: late ? ['late_notice', ...warnings] : warnings,
  };
}

/**
 * After a topology or customer reload: the plan's list as computed now, and
 * for a confirmed plan the difference against what was confirmed (notices
 * to the added customers wait for a new confirmation). Null when nothing changed.
 */
export function recomputeAffected(plan: Plan, grid: Grid, now: number): Plan | null {
  if (!OPEN_PLAN_STATES.includes(plan.state) || plan.state === 'in_progress') return null;
  const customers = grid.customersOf(plan.scope);
  const same = customers.length === plan.customers.length && customers.every((c, i) => c === plan.customers[i]);
  if (plan.state === 'draft') return same ? null : { ...plan, customers, sites: grid.sitesOf(plan.scope) };
  const before = new Set(plan.confirmedCustomers);
  const nowSet = new Set(customers);
  const added = customers.filter((c) => !before.has(c));
  const removed = plan.confirmedCustomers.filter((c) => !nowSet.has(c));
  const pendingChange = added.length || removed.length ? { at: now, added, removed } : null;
  if (same && JSON.stringify(pendingChange && { ...pendingChange, at: 0 }) === JSON.stringify(plan.pendingChange && { ...plan.pendingChange, at: 0 })) return null;
  return { ...plan, customers, pendingChange, sites: grid.sitesOf(plan.scope) };
}
