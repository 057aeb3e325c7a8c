/** The outage pool's pure core, table-driven: plans, reconciliation, findings, repair calls, frequent outages, CSV. */
import { describe, expect, it } from 'vitest';
import { frequentOutages } from '../../server/outages/frequent.ts';
import { foldFindings, observe } from '../../server/outages/mismatch.ts';
import { parseCsv, parsePlanCsv, parseTime } from '../../server/outages/plan-csv.ts';
import { actOnPlan, isLate, newPlan, overlapping, planIssues, recomputeAffected, type PlanInput } from '../../server/outages/plans.ts';
import { classify, planAlarms, plannedSuppressions, stepPlan, verifyRestoration } from '../../server/outages/reconcile.ts';
import { sampleSupply } from '../../server/outages/supply.ts';
import { studyTicket } from '../../server/outages/tickets.ts';
import type { MeterSupply, Plan } from '../../server/outages/types.ts';
import { TOPOLOGY_DOC, dark, grid, live, OPTS, rec } from './fixture.ts';

const g = grid();
const H = 3_600_000;
const DAY = 24 * H;
const T1: PlanInput = { scope: [{ kind: 'transformer', site: 's1', transformer: 'T1' }], start: 10 * DAY, end: 10 * DAY + 4 * H, reason: '检修', workOrder: 'WO', crew: '' };
const plan = (over: Partial<Plan> = {}, input: PlanInput = T1): Plan => ({ ...newPlan('P1', input, g, 'op', 0, OPTS), ...over });

describe('plans', () => {
  it('issues: every problem at once', () => {
    expect(planIssues({ ...T1, scope: [{ kind: 'line', site: 's1', line: 'L9' }], end: T1.start, reason: '' }, g, 0).map((i) => i.field)).toEqual(['scope[0]', 'end', 'reason']);
    expect(planIssues({ ...T1, end: T1.start + 8 * DAY }, g, 0)).toEqual([{ field: 'end', message: 'a planned outage lasts at most 7 days' }]);
    expect(planIssues(T1, g, T1.end)).toEqual([{ field: 'end', message: 'is in the past' }]);
    expect(planIssues(T1, g, 0)).toEqual([]);
  });

  it.each([
    [7 * DAY, 0, false],
    [7 * DAY - 1, 0, true],
    [DAY, 0, true],
  ])('late: start %d, now %d → %s', (start, now, late) => expect(isLate(start, now, OPTS)).toBe(late));

  it('overlap: the feeder holds T1; a line of T1 meets T1; T3 does not; another time does not; a cancelled plan does not', () => {
    const p1 = plan({ state: 'confirmed' });
    const at = (scope: PlanInput['scope'], start = T1.start) => overlapping({ ...T1, scope, start, end: start + H }, [p1], g).map((p) => p.id);
    expect(at([{ kind: 'feeder', feeder: 'F1' }])).toEqual(['P1']);
    expect(at([{ kind: 'line', site: 's1', line: 'L2' }])).toEqual(['P1']);
    expect(at([{ kind: 'transformer', site: 's1', transformer: 'T3' }])).toEqual([]);
    expect(at([{ kind: 'feeder', feeder: 'F1' }], T1.end)).toEqual([]);
    expect(overlapping(T1, [{ ...p1, state: 'cancelled' }], g)).toEqual([]);
  });

  it('confirm: the shown count must match; notices to every affected customer; once notified, a second confirm needs a pending change', () => {
    const p = plan();
    expect(actOnPlan(p, { op: 'confirm', by: 'x', customers: 3 }, g, DAY, OPTS)).toMatchObject({ ok: false, code: 'GW_ERR_PLAN_STALE' });
    const r = actOnPlan(p, { op: 'confirm', by: 'x', customers: 2 }, g, DAY, OPTS);
    expect(r).toMatchObject({ ok: true, plan: { state: 'confirmed', confirmedCustomers: ['C2', 'C1'], confirmedBy: 'x', late: false }, notify: { purpose: 'outage_planned', customers: ['C2', 'C1'] } });
    if (!r.ok) return;
    // not yet notified (the notices were not handed over): confirming again retries every notice (their keys keep them single)
    expect(actOnPlan(r.plan, { op: 'confirm', by: 'x' }, g, DAY, OPTS)).toMatchObject({ ok: true, notify: { customers: ['C2', 'C1'] } });
    expect(actOnPlan({ ...r.plan, state: 'notified' }, { op: 'confirm', by: 'x' }, g, DAY, OPTS)).toMatchObject({ ok: false, code: 'GW_ERR_PLAN_STATE' });
    // confirmed 5 days ahead: late
    expect(actOnPlan(p, { op: 'confirm', by: 'x' }, g, 5 * DAY, OPTS)).toMatchObject({ ok: true, plan: { late: true, warnings: ['late_notice'] } });
  });

  it('cancel: cancellation notices only to customers already notified; refused once in progress', () => {
    expect(actOnPlan(plan(), { op: 'cancel', by: 'x' }, g, 0, OPTS)).toMatchObject({ ok: true, notify: null, plan: { state: 'cancelled' } });
    expect(actOnPlan(plan({ state: 'notified', confirmedCustomers: ['C2', 'C1'] }), { op: 'cancel', by: 'x', reason: 'rain' }, g, 0, OPTS)).toMatchObject({
      ok: true,
      plan: { cancelReason: 'rain' },
      notify: { purpose: 'outage_cancelled', customers: ['C2', 'C1'] },
    });
    expect(actOnPlan(plan({ state: 'in_progress' }), { op: 'cancel', by: 'x' }, g, 0, OPTS)).toMatchObject({ ok: false, code: 'GW_ERR_PLAN_STATE' });
  });

  it('reload: a confirmed plan shows added and removed customers and waits; confirming again notifies the added only', () => {
    const p = plan({ state: 'notified', confirmedCustomers: ['C2', 'C1'], customers: ['C2', 'C1'] });
    const doc = structuredClone(TOPOLOGY_DOC);
    doc.customers = doc.customers.filter((c) => c.id !== 'C1');
    (doc.customers as unknown[]).push({ id: 'C9', name: '新', site: 's1', transformer: 'T1', contacts: [{ name: '新', phone: '13800000009' }] });
    const g2 = grid(doc);
    const next = recomputeAffected(p, g2, 5)!;
    expect(next).toMatchObject({ state: 'notified', customers: ['C2', 'C9'], pendingChange: { at: 5, added: ['C9'], removed: ['C1'] } });
    expect(recomputeAffected(next, g2, 6)).toBeNull();
    expect(actOnPlan(next, { op: 'confirm', by: 'y' }, g2, DAY, OPTS)).toMatchObject({ ok: true, plan: { pendingChange: null, confirmedCustomers: ['C2', 'C9'] }, notify: { customers: ['C9'] } });
    expect(recomputeAffected(plan({ state: 'done' }), g2, 5)).toBeNull();
  });
});

describe('reconciliation', () => {
  const t1 = rec({ id: 'O1', scope: { kind: 'transformer', site: 's1', transformer: 'T1', feeder: 'F1' }, transformers: ['s1/T1'], start: T1.start + H });
  it.each([
    ['inside scope and window → planned', plan({ state: 'notified' }), t1, { cause: 'planned', planId: 'P1' }],
    ['14 min before the start (tolerance 15) → planned', plan({ state: 'notified' }), { ...t1, start: T1.start - 14 * 60_000 }, { cause: 'planned', planId: 'P1' }],
    ['after the end → fault', plan({ state: 'notified' }), { ...t1, start: T1.end + 1 }, { cause: 'fault' }],
    ['a draft covers nothing → fault', plan(), t1, { cause: 'fault' }],
    ['the feeder outage is not inside a transformer plan → fault', plan({ state: 'notified' }), { ...t1, scope: { kind: 'feeder' as const, site: 's1', feeder: 'F1' }, transformers: ['s1/T1', 's1/T2'] }, { cause: 'fault' }],
    ['a line of the planned transformer → planned', plan({ state: 'in_progress' }), { ...t1, scope: { kind: 'line' as const, site: 's1', transformer: 'T1', line: 'L1', meter: 'mL1' } }, { cause: 'planned', planId: 'P1' }],
    ["a transformer meter dark alone → unknown (its voltage circuit)", plan({ state: 'cancelled' }), { ...t1, scope: { kind: 'meter' as const, site: 's1', transformer: 'T3', meter: 'mT3' } }, { cause: 'unknown' }],
  ])('%s', (_n, p, r, want) => expect(classify(r, [p], g, OPTS)).toEqual(want));

  const start = T1.start;
  it.each([
    ['notified, its outage active → in progress', plan({ state: 'notified' }), [t1], true, start + H, 'in_progress'],
    ['notified, no outage, supply 10 min after start → not executed', plan({ state: 'notified' }), [], true, start + 10 * 60_000, 'not_executed'],
    ['notified, no outage, 9 min after start → nothing yet', plan({ state: 'notified' }), [], true, start + 9 * 60_000, null],
    ['notified, no data from the scope → never called not executed', plan({ state: 'notified' }), [], false, start + H, null],
    ['not executed, then cut → in progress', plan({ state: 'not_executed' }), [t1], true, start + H, 'in_progress'],
    ['in progress, restored → done', plan({ state: 'in_progress' }), [{ ...t1, state: 'restored' as const, end: start + 2 * H }], false, start + 3 * H, 'done'],
    ['in progress, dark after the end → overrun', plan({ state: 'in_progress' }), [t1], false, T1.end + 1, 'overrun'],
  ])('%s', (_n, p, linked, live, now, want) => expect(stepPlan(p, linked, live, now, OPTS)?.plan.state ?? null).toBe(want));

  it('overrun sends an extension notice to the customers still dark, and records the restoration later', () => {
    const s = stepPlan(plan({ state: 'in_progress' }), [t1], false, T1.end + 1, OPTS)!;
    expect(s.notify).toEqual({ purpose: 'outage_extended', customers: [] });
    const withCustomers = stepPlan(plan({ state: 'in_progress' }), [{ ...t1, customers: ['C2', 'C1'] }], false, T1.end + 1, OPTS)!;
    expect(withCustomers.notify?.customers).toEqual(['C2', 'C1']);
    expect(stepPlan(plan({ state: 'overrun' }), [{ ...t1, state: 'restored', end: T1.end + H }], false, T1.end + 2 * H, OPTS)?.plan.restoredAt).toBe(T1.end + H);
  });

  it('plan alarms: not executed until the end, overrun until restored', () => {
    expect(planAlarms([plan({ state: 'not_executed' })], g, T1.start + H)).toMatchObject([{ alarmId: 'plan-not-executed:s1/T1/P1', active: true, severity: 2 }]);
    expect(planAlarms([plan({ state: 'not_executed' })], g, T1.end + 1)).toMatchObject([{ active: false }]);
    expect(planAlarms([plan({ state: 'overrun', restoredAt: 5 })], g, 0)).toMatchObject([{ alarmId: 'plan-overrun:s1/T1/P1', active: false }]);
    expect(planAlarms([plan({ state: 'done' })], g, 0)).toEqual([]);
  });

  it('planned suppressions: the transformer and its meters, from the tolerance before the start to the end', () => {
    const p = plan({ state: 'notified', workOrder: 'WO' });
    expect(plannedSuppressions([p], g, T1.start - 16 * 60_000, OPTS)).toEqual([]);
    expect(plannedSuppressions([p], g, T1.start, OPTS).map((s) => s.source)).toEqual(['s1/T1', 'mT1', 'mL1', 'mL2']);
    expect(plannedSuppressions([p], g, T1.start, OPTS)[0]).toEqual({ source: 's1/T1', reason: 'planned outage P1 (WO)', cause: 'planned' });
    expect(plannedSuppressions([p], g, T1.end + 1, OPTS)).toEqual([]);
    expect(plannedSuppressions([{ ...p, state: 'overrun' }], g, T1.end + 1, OPTS)).toHaveLength(4);
  });

  it('restoration is verified per customer on its own meter, else its line meter', () => {
    const r = rec({ id: 'O1', scope: { kind: 'transformer', site: 's1', transformer: 'T1' }, customers: ['C2', 'C1'] });
    const s = new Map<string, MeterSupply>([['mL2', live()], ['mC1', dark()], ['mL1', live()]]);
    expect(verifyRestoration(r, g, (m) => s.get(m))).toEqual({ back: ['C2'], dark: ['C1'], unmeasured: [] });
    expect(verifyRestoration(r, g, () => undefined)).toEqual({ back: [], dark: [], unmeasured: ['C2', 'C1'] });
  });
});

describe('topology mismatch', () => {
  const t1 = rec({ id: 'O1', scope: { kind: 'transformer', site: 's1', transformer: 'T1' }, transformers: ['s1/T1'], start: 100_000 });
  const base = () => new Map<string, MeterSupply>([['mT1', dark(100_000)], ['mL1', dark(100_000)], ['mL2', dark(100_000)], ['mT3', live(230, 0, 160_000)], ['mL4', live(230, 0, 160_000)]]);

  it("a customer's meter inside the dark scope, live since before the outage → live_inside", () => {
    const s = base().set('mC1', live(228, 0, 160_000));
    expect(observe([t1], g, s, 160_000, OPTS).map((o) => `${o.meter} ${o.kind}`)).toEqual(['mC1 live_inside']);
  });

  it('a meter back with the restoration (live since after the start) is no evidence', () => {
    const s = base().set('mC1', live(228, 150_000, 160_000));
    expect(observe([t1], g, s, 160_000, OPTS)).toEqual([]);
  });

  it('a meter outside going dark with it while its own transformer has supply → dark_outside; not when far apart in time', () => {
    expect(observe([t1], g, base().set('mL4', dark(110_000)), 160_000, OPTS).map((o) => `${o.meter} ${o.kind} ${o.outage.id}`)).toEqual(['mL4 dark_outside O1']);
    expect(observe([t1], g, base().set('mL4', dark(200_000)), 240_000, OPTS)).toEqual([]);
    // dark for 10 s only: its own transformer's outage may still be on its way
    expect(observe([t1], g, base().set('mL4', dark(110_000)), 120_000, OPTS)).toEqual([]);
  });

  it('one finding per meter: a second outage adds evidence, the same outage adds nothing', () => {
    let n = 0;
    const obs = observe([t1], g, base().set('mL4', dark(110_000)), 160_000, OPTS);
    const [f] = foldFindings(new Map(), obs, g, () => `F${++n}`);
    expect(f).toMatchObject({ id: 'F1', meter: 'mL4', kind: 'dark_outside', modelled: { site: 's1', transformer: 'T3', line: 'L4' }, suggested: { site: 's1', transformer: 'T1' }, evidence: [{ outageId: 'O1', at: 110_000, voltage: 0 }] });
    expect(foldFindings(new Map([['mL4', f!]]), obs, g, () => `F${++n}`)).toEqual([]);
    const again = foldFindings(new Map([['mL4', f!]]), [{ ...obs[0]!, outage: { ...t1, id: 'O7' } }], g, () => `F${++n}`);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ id: 'F1', evidence: [{ outageId: 'O1' }, { outageId: 'O7' }] });
  });
});

describe('repair calls', () => {
  const t3 = rec({ id: 'O3', scope: { kind: 'transformer', site: 's1', transformer: 'T3' }, customers: ['C4', 'C5'], meters: ['mT3'] });
  const s = new Map<string, MeterSupply>([['mC1', live(225)], ['mL2', dark(5)], ['mC4', dark(5)], ['mL3', live(250)]]);
  const sup = (m: string) => s.get(m);
  it.each([
    ['a customer inside a known outage → linked', { customer: 'C4' }, [t3], { verdict: 'linked', outageId: 'O3' }],
    ['a meter inside a known outage → linked', { meter: 'mT3' }, [t3], { verdict: 'linked', outageId: 'O3' }],
    ['its meter live with a normal voltage → customer side', { customer: 'C1' }, [], { verdict: 'customer_side', meter: 'mC1' }],
    ['its meter alone dark → single outage', { customer: 'C2' }, [], { verdict: 'single_outage', meter: 'mL2' }],
    ['a voltage outside the normal band → unknown', { customer: 'C3' }, [], { verdict: 'unknown', meter: 'mL3' }],
    ['no meter known → unknown', { address: '某路1号' }, [], { verdict: 'unknown', site: '' }],
  ])('%s', (_n, input, active, want) => expect(studyTicket({ time: 0, text: '', ...input }, g, active, sup, [], H)).toMatchObject(want));

  it('repeat calls of one customer within the window are counted', () => {
    const prev = [{ customer: 'C1', time: 0 }, { customer: 'C1', time: -2 * H }, { customer: 'C2', time: 0 }] as never[];
    expect(studyTicket({ customer: 'C1', time: 10, text: '' }, g, [], sup, prev, H).repeatCount).toBe(2);
  });
});

describe('frequent outages', () => {
  it('customers with at least min outages within the days; merged records do not count', () => {
    const r = (id: string, start: number, customers: string[], state: 'restored' | 'merged' = 'restored') => rec({ id, scope: { kind: 'transformer', site: 's1', transformer: 'T1' }, start, customers, state });
    const list = [r('O1', 1 * DAY, ['C1', 'C2']), r('O2', 20 * DAY, ['C1']), r('O3', 30 * DAY, ['C1', 'C2']), r('O4', 31 * DAY, ['C2'], 'merged'), r('O0', -30 * DAY, ['C2'])];
    expect(frequentOutages(list, 40 * DAY, 60, 3)).toEqual([{ customer: 'C1', count: 3, outages: [{ id: 'O1', start: DAY, cause: 'fault' }, { id: 'O2', start: 20 * DAY, cause: 'fault' }, { id: 'O3', start: 30 * DAY, cause: 'fault' }] }]);
    expect(frequentOutages(list, 40 * DAY, 60, 2).map((f) => `${f.customer}:${f.count}`)).toEqual(['C1:3', 'C2:2']);
  });
});

describe('supply from the latest reading', () => {
  it.each([
    ['good, above the threshold → live', { device: 'm', ts: 900, q: 'good', v: { ua: 230, ub: 12 } }, 'live', 230],
    ['good, every phase below 22 V → dark', { device: 'm', ts: 900, q: 'good', v: { ua: 3, ub: 2, uc: 21.9 } }, 'dark', 21.9],
    ['comm loss → unknown', { device: 'm', ts: 900, q: 'comm_loss', v: { ua: 230 } }, 'unknown', null],
    ['older than freshS → unknown', { device: 'm', ts: -60_000, q: 'good', v: { ua: 230 } }, 'unknown', null],
  ])('%s', (_n, r, status, voltage) => expect(sampleSupply(undefined, r, 1000, OPTS)).toMatchObject({ status, voltage }));
  it('keeps since while the status holds', () => {
    const a = sampleSupply(undefined, { device: 'm', ts: 900, q: 'good', v: { ua: 0 } }, 1000, OPTS);
    expect(a.since).toBe(900);
    expect(sampleSupply(a, { device: 'm', ts: 1900, q: 'good', v: { ua: 0 } }, 2000, OPTS).since).toBe(900);
  });
});

describe('plan CSV', () => {
  it('quotes, CRLF, a newline inside quotes, BOM; rows keep their starting line', () => {
    expect(parseCsv('\uFEFFa,b\r\n"x, ""y""","1\n2"\r\n\r\nz,w')).toEqual([
      { line: 1, cells: ['a', 'b'] },
      { line: 2, cells: ['x, "y"', '1\n2'] },
      { line: 5, cells: ['z', 'w'] },
    ]);
  });
  it('times: local to the zone (with a space or T), ISO with offset; impossible dates and bad offsets refused', () => {
    expect(parseTime('2026-10-01 08:00', 480)).toBe(Date.parse('2026-10-01T00:00:00Z'));
    expect(parseTime('2026-10-01T08:00:00+08:00', 0)).toBe(Date.parse('2026-10-01T00:00:00Z'));
    expect(parseTime('2026-02-30 08:00', 480)).toBeNull();
    expect(parseTime('2026-10-01T08:00:00', 480)).toBe(Date.parse('2026-10-01T00:00:00Z'));
    expect(parseTime('2026-10-01T08:00:00+8', 480)).toBeNull();
  });
  it('every bad row with its line; a missing column; text that is not UTF-8', () => {
    const r = parsePlanCsv('scope,start,end,reason\ntransformer:s1,2026-10-01 08:00,2026-10-01 09:00,x\nfeeder:F1,2026-10-01 08:00,2026-10-01 09:00\nbogus:1,,,\n', 480);
    expect(r.rows).toEqual([]);
    expect(r.issues).toEqual([
      { line: 2, reason: 'scope "transformer:s1": expected transformer:<site>/<id>' },
      { line: 3, reason: '3 fields, the header has 4' },
      { line: 4, reason: 'scope "bogus:1": expected feeder:<id>, transformer:<site>/<id> or line:<site>/<id>; start "" is not a time; end "" is not a time; reason is empty' },
    ]);
    expect(parsePlanCsv('scope,start\n', 480).issues).toEqual([{ line: 1, reason: 'header lacks end, reason' }]);
    expect(parsePlanCsv('scope\uFFFD,start\n', 480).issues[0]!.reason).toContain('UTF-8');
  });
});
