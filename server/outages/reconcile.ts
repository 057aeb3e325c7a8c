/**
 * Reconciliation of measured outages with planned ones (pure; docs/outages.md,
 * Reconciliation):
 *  - an outage inside a plan's scope and window (from `startToleranceMin`
 *    before its start to its end) is planned: its correlation alarm is
 *    suppressed by design, so no critical alarm annunciates;
 *  - outside every plan it is a fault (the correlation's critical alarm stands);
 *  - a confirmed plan whose scope still has supply `notExecutedAfterMin` after
 *    its start is "not executed" (alarm);
 *  - a plan's scope still dark after its end is "overrun" (alarm, extension notice);
 *  - restored: the customers measured back get a restoration notice; those
 *    still dark are a nested outage of their own (measured.ts).
 */
import type { Suppression } from '../rules/outage.ts';
import type { Grid } from './grid.ts';
import { COVERING_PLAN_STATES } from './plans.ts';
import type { MeterSupply, OutageOptions, OutageRecord, Plan } from './types.ts';

export const PLAN_NOT_EXECUTED_RULE = 'plan-not-executed';
export const PLAN_OVERRUN_RULE = 'plan-overrun';

/** The plan a measured outage belongs to, or null: a covering plan whose window holds the outage's start. */
export function planOf(r: OutageRecord, plans: Iterable<Plan>, grid: Grid, opts: Pick<OutageOptions, 'startToleranceMin'>): Plan | null {
  const tol = opts.startToleranceMin * 60_000;
  for (const p of plans) {
    if (!COVERING_PLAN_STATES.includes(p.state)) continue;
    if (r.start < p.start - tol || r.start > p.end) continue;
    if (p.scope.some((e) => grid.covers(e, r.scope))) return p;
  }
  return null;
}

/** Cause of a new measured outage: planned (with its plan), fault, or unknown (a transformer meter alone dark: its voltage circuit). */
export function classify(r: OutageRecord, plans: Iterable<Plan>, grid: Grid, opts: Pick<OutageOptions, 'startToleranceMin'>): Pick<OutageRecord, 'cause' | 'planId'> {
  const p = planOf(r, plans, grid, opts);
  if (p) return { cause: 'planned', planId: p.id };
  if (r.scope.kind === 'meter' && r.scope.meter !== undefined && grid.meters.get(r.scope.meter)?.line === undefined && grid.meters.get(r.scope.meter)?.customer === undefined)
    return { cause: 'unknown' };
  return { cause: 'fault' };
}

export interface PlanStep {
  plan: Plan;
  what: string;
  notify: { purpose: 'outage_extended'; customers: string[] } | null;
}

/**
 * The time- and measurement-driven transition of one plan at `now`, or null.
 * `linked` are the measured outages reconciled with it; `scopeLive` says
 * whether a meter of its scope reads supply now (a scope with no data is
 * never called "not executed").
 */
export function stepPlan(plan: Plan, linked: readonly OutageRecord[], scopeLive: boolean, now: number, opts: Pick<OutageOptions, 'notExecutedAfterMin'>): PlanStep | null {
  const active = linked.filter((r) => r.state === 'active');
  const anyEver = linked.length > 0;
  const firstStart = anyEver ? Math.min(...linked.map((r) => r.start)) : undefined;
  switch (plan.state) {
    case 'confirmed':
    case 'notified':
    case 'not_executed':
      if (active.length > 0) return { plan: { ...plan, state: 'in_progress', startedAt: firstStart! }, what: 'supply cut: in progress', notify: null };
      if (plan.state !== 'not_executed' && !anyEver && scopeLive && now >= plan.start + opts.notExecutedAfterMin * 60_000)
        return { plan: { ...plan, state: 'not_executed' }, what: `supply still present ${opts.notExecutedAfterMin} min after the start: not executed`, notify: null };
      return null;
    case 'in_progress':
      if (active.length === 0) {
        const restoredAt = Math.max(...linked.map((r) => r.end ?? now));
        return { plan: { ...plan, state: 'done', restoredAt }, what: 'supply back: done', notify: null };
      }
      if (now > plan.end) {
        const dark = [...new Set(active.flatMap((r) => r.customers))];
        return { plan: { ...plan, state: 'overrun' }, what: 'still dark after the planned end: overrun', notify: { purpose: 'outage_extended', customers: dark } };
      }
      return null;
    case 'overrun':
      if (active.length === 0 && plan.restoredAt === undefined) return { plan: { ...plan, restoredAt: Math.max(...linked.map((r) => r.end ?? now)) }, what: 'supply back after the overrun', notify: null };
      return null;
    case 'draft':
    case 'done':
    case 'cancelled':
      return null;
    default: {
      const never: never = plan.state;
      return never;
    }
  }
}

/** A pool alarm as it should be now (through the alarm lifecycle). */
export interface PoolAlarm {
  alarmId: string;
  ruleId: string;
  /** `site/transformer` of the plan's first transformer: places the alarm in its station */
  source: string;
  active: boolean;
  severity: 1 | 2 | 3 | 4;
  message: string;
  planId: string;
}

/** The "not executed" and "overrun" alarms of every plan: active while the condition lasts. */
export function planAlarms(plans: Iterable<Plan>, grid: Grid, now: number): PoolAlarm[] {
  const out: PoolAlarm[] = [];
  for (const p of plans) {
    const t = p.scope.flatMap((e) => grid.transformersOf(e))[0];
    if (t === undefined) continue;
    const source = `${t}/${p.id}`;
    if (p.state === 'not_executed')
      out.push({ alarmId: `${PLAN_NOT_EXECUTED_RULE}:${source}`, ruleId: PLAN_NOT_EXECUTED_RULE, source, active: now <= p.end, severity: 2, planId: p.id,
        message: `planned outage ${p.id} (${p.workOrder || p.reason}) not executed: supply still present after its start; ${p.confirmedCustomers.length} customers were told of an outage` });
    if (p.state === 'overrun')
      out.push({ alarmId: `${PLAN_OVERRUN_RULE}:${source}`, ruleId: PLAN_OVERRUN_RULE, source, active: p.restoredAt === undefined, severity: 2, planId: p.id,
        message: `planned outage ${p.id} (${p.workOrder || p.reason}) overrun: still dark after its planned end ${new Date(p.end).toISOString()}` });
  }
  return out;
}

/**
 * Design suppressions of the correlation's outage alarms inside a plan's
 * scope and window: a planned outage annunciates no critical alarm. An
 * overrunning plan keeps them (its own alarm reports the overrun).
 */
export function plannedSuppressions(plans: Iterable<Plan>, grid: Grid, now: number, opts: Pick<OutageOptions, 'startToleranceMin'>): Suppression[] {
  const out: Suppression[] = [];
  const tol = opts.startToleranceMin * 60_000;
  for (const p of plans) {
    if (!COVERING_PLAN_STATES.includes(p.state)) continue;
    const inWindow = now >= p.start - tol && (now <= p.end || (p.state === 'overrun' && p.restoredAt === undefined) || p.state === 'in_progress');
    if (!inWindow) continue;
    const reason = `planned outage ${p.id}${p.workOrder ? ` (${p.workOrder})` : ''}`;
    const sources = new Set<string>();
    for (const e of p.scope) {
      if (e.kind === 'line') {
        const m = grid.lines.get(`${e.site}/${e.line}`)?.meter;
        if (m) sources.add(m);
        continue;
      }
      for (const t of grid.transformersOf(e)) {
        sources.add(t);
        const gt = grid.transformers.get(t)!;
        if (gt.meter) sources.add(gt.meter);
        for (const l of gt.lines) {
          const m = grid.lines.get(l)?.meter;
          if (m) sources.add(m);
        }
      }
    }
    for (const s of sources) out.push({ source: s, reason, cause: 'planned' });
  }
  return out;
}

/** At restoration: each affected customer measured back, still dark, or not measured (no fresh reading of its meter). */
export function verifyRestoration(r: OutageRecord, grid: Grid, supply: (meter: string) => MeterSupply | undefined): { back: string[]; dark: string[]; unmeasured: string[] } {
  const back: string[] = [];
  const dark: string[] = [];
  const unmeasured: string[] = [];
  for (const id of r.customers) {
    const c = grid.customers.get(id);
    const m = c ? grid.meterOfCustomer(c) : undefined;
    const s = m !== undefined ? supply(m)?.status : undefined;
    (s === 'live' ? back : s === 'dark' ? dark : unmeasured).push(id);
  }
  return { back, dark, unmeasured };
}

/** Does a meter of the plan's scope read supply now? */
export function scopeHasSupply(p: Plan, grid: Grid, supply: (meter: string) => MeterSupply | undefined): boolean {
  for (const e of p.scope) {
    const ms =
      e.kind === 'line'
        ? [grid.lines.get(`${e.site}/${e.line}`)?.meter]
        : grid.transformersOf(e).flatMap((t) => {
            const gt = grid.transformers.get(t)!;
            return [gt.meter, ...gt.lines.map((l) => grid.lines.get(l)?.meter)];
          });
    if (ms.some((m) => m !== undefined && supply(m)?.status === 'live')) return true;
  }
  return false;
}
