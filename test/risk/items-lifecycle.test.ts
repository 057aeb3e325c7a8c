/** Risk items' pure lifecycle: opening on a code that turns, code changes, due times, follow-up, verification, escalation; assignment and notices. */
import { describe, expect, it } from 'vitest';
import type { RiskCode, RiskItem, StationRiskDay } from '../../contract/risk.ts';
import { applyStep, followUpStep, overdueSteps, stepsForDays, verifyStep, type ItemOptions, type StationCodes } from '../../server/risk/items/lifecycle.ts';
import { assignFor, escalationNotices, itemLink, leadersFor, openedNotices } from '../../server/risk/items/notices.ts';
import type { Person } from '../../server/notify/contacts.ts';

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 1, 22); // 06:00 +08:00 on 2 Nov
const OPTS: ItemOptions = { answerWithinHours: { yellow: 72, red: 24 } };

function day(station: string, n: number, code: RiskCode | null, extra: Partial<StationRiskDay> = {}): StationRiskDay {
  const d = `2026-11-${String(n).padStart(2, '0')}`;
  return {
    station, day: d, computedAt: T0 + (n - 2) * 24 * H, run: 'daily', window: { from: 0, to: 1 }, score: code === null ? null : 50, coverage: 1,
    rawCode: code, code, driving: code && code !== 'green' ? 'repair-calls-per-1000' : null, dimensions: { demand: null, handling: null, speed: null }, indicators: [], ...extra,
  };
}

let n = 0;

/** Runs days through the lifecycle one computation at a time, as the service does. */
function run(batches: StationRiskDay[][], start: { items?: Map<string, RiskItem>; codes?: StationCodes } = {}) {
  const items = new Map(start.items ?? []);
  let codes = start.codes ?? {};
  const all = [];
  for (const days of batches) {
    const out = stepsForDays(days, items, codes, { options: OPTS, newId: (d) => `I${++n}-${d.station}`, assign: () => ({ assignees: [{ id: 'p1', name: '所长' }], text: 'station' }) });
    for (const s of out.steps) items.set(s.id, applyStep(items.get(s.id), s));
    codes = out.codes;
    all.push(...out.steps);
  }
  return { items, codes, steps: all };
}

const kinds = (it: RiskItem) => it.events.map((e) => e.kind);

describe('risk item lifecycle', () => {
  it.each([
    ['green → yellow opens one', [['green'], ['yellow']], 1, ['yellow']],
    ['first day red opens one', [['red']], 1, ['red']],
    ['yellow for days opens one only', [['yellow'], ['yellow'], ['yellow']], 1, ['yellow']],
    ['green → yellow → red: one item, code-changed', [['green'], ['yellow'], ['red']], 1, ['red']],
    ['green stays: none', [['green'], ['green']], 0, []],
    ['no score keeps the code: none opens on null', [[null], [null]], 0, []],
  ] as const)('%s', (_name, codes, count, itemCodes) => {
    const r = run(codes.map((c, i) => [day('s1', i + 2, c[0])]));
    expect(r.items.size).toBe(count);
    expect([...r.items.values()].map((it) => it.code)).toEqual(itemCodes);
  });

  it('a redder code shortens the due time of an open item and records code-changed; green records it but does not close', () => {
    const r = run([[day('s1', 2, 'yellow')], [day('s1', 3, 'red')], [day('s1', 4, 'green')]]);
    const it = [...r.items.values()][0]!;
    expect(it.openedCode).toBe('yellow');
    expect(it.state).toBe('open');
    expect(it.code).toBe('green');
    // opened at day 2 + 72 h; red on day 3 → day 3 + 24 h is earlier
    expect(it.dueAt).toBe(T0 + 24 * H + 24 * H);
    expect(kinds(it)).toEqual(['opened', 'assigned', 'code-changed', 'code-changed']);
    expect(it.events[2]!.text).toBe('yellow → red (2026-11-03)');
  });

  it('a closed item and a station staying yellow opens nothing; turning red does, and green → yellow again does', () => {
    let r = run([[day('s1', 2, 'yellow')]]);
    const first = [...r.items.values()][0]!;
    const answered = applyStep(first, (followUpStep(first, 'east', 'crews sent', T0 + H) as { ok: true; step: never }).step);
    const closed = applyStep(answered, (verifyStep(answered, 'center', true, '', T0 + 2 * H, OPTS) as { ok: true; step: never }).step);
    expect(closed.state).toBe('closed');
    expect(kinds(closed).slice(-3)).toEqual(['follow-up', 'verified', 'closed']);
    r = run([[day('s1', 3, 'yellow')], [day('s1', 4, 'yellow')]], { items: new Map([[closed.id, closed]]), codes: r.codes });
    expect(r.items.size).toBe(1);
    r = run([[day('s1', 5, 'red')]], { items: r.items, codes: r.codes });
    expect(r.items.size).toBe(2);
    const red = [...r.items.values()].find((i) => i.id !== closed.id)!;
    expect(red).toMatchObject({ openedCode: 'red', state: 'open', dueAt: day('s1', 5, 'red').computedAt + 24 * H });
    // the red one closed; green, then yellow again: a third
    const redClosed = applyStep(applyStep(red, { kind: 'follow-up', id: red.id, at: T0 + 80 * H, by: 'east', text: 'ok' }), { kind: 'verified', id: red.id, at: T0 + 81 * H, by: 'center' });
    r = run([[day('s1', 6, 'green')], [day('s1', 7, 'yellow')]], { items: new Map([...r.items, [red.id, redClosed]]), codes: r.codes });
    expect([...r.items.values()].map((i) => [i.openedCode, i.state])).toEqual([['yellow', 'closed'], ['red', 'closed'], ['yellow', 'open']]);
  });

  it('ignores provisional days and recomputations of days older than the last one seen', () => {
    const r = run([[day('s1', 2, 'yellow', { run: 'provisional' })], [day('s1', 3, 'green')], [day('s1', 2, 'red', { run: 'on-demand' })]]);
    expect(r.items.size).toBe(0);
    expect(r.codes.s1).toEqual({ code: 'green', day: '2026-11-03' });
  });

  it('one computation of several stations and days takes each station in day order', () => {
    const r = run([[day('s2', 3, 'red'), day('s1', 3, 'green'), day('s2', 2, 'green'), day('s1', 2, 'yellow')]]);
    const byStation = new Map([...r.items.values()].map((i) => [i.station, i]));
    expect(byStation.get('s2')).toMatchObject({ openedCode: 'red', day: '2026-11-03' });
    expect(byStation.get('s1')).toMatchObject({ openedCode: 'yellow', code: 'green', day: '2026-11-02' });
  });

  it('follow-up, verification and rejection: states, refusals and a new due time', () => {
    const it = [...run([[day('s1', 2, 'red')]]).items.values()][0]!;
    expect(verifyStep(it, 'center', true, '', T0, OPTS)).toEqual({ ok: false, reason: `item ${it.id} has no follow-up to verify yet` });
    const f = followUpStep(it, 'east', 'fixed the feeder', T0 + H);
    if (!f.ok) throw new Error(f.reason);
    const answered = applyStep(it, f.step);
    expect(answered.state).toBe('answered');
    const rej = verifyStep(answered, 'center', false, 'not enough', T0 + 2 * H, OPTS);
    if (!rej.ok) throw new Error(rej.reason);
    const reopened = applyStep(answered, rej.step);
    expect(reopened).toMatchObject({ state: 'open', dueAt: T0 + 2 * H + 24 * H, escalated: false });
    expect(reopened.events.at(-1)).toEqual({ at: T0 + 2 * H, by: 'center', kind: 'rejected', text: 'not enough' });
    const closed = applyStep(reopened, { kind: 'verified', id: it.id, at: T0 + 3 * H, by: 'center' });
    expect(followUpStep(closed, 'east', 'more', T0 + 4 * H).ok).toBe(false);
    expect(verifyStep(closed, 'center', true, '', T0 + 4 * H, OPTS)).toEqual({ ok: false, reason: `item ${it.id} is closed already` });
  });

  it('escalates an open item once past its due time; not an answered one; again after a rejection misses the new due time', () => {
    const it = [...run([[day('s1', 2, 'yellow')]]).items.values()][0]!;
    expect(overdueSteps([it], it.dueAt - 1)).toEqual([]);
    const [esc] = overdueSteps([it], it.dueAt);
    expect(esc).toMatchObject({ kind: 'escalated', id: it.id, by: 'system' });
    const escalated = applyStep(it, esc!);
    expect(escalated).toMatchObject({ escalated: true, state: 'open' });
    expect(overdueSteps([escalated], it.dueAt + 10 * H)).toEqual([]);
    const answered = applyStep(escalated, { kind: 'follow-up', id: it.id, at: it.dueAt + H, by: 'east', text: 'done' });
    expect(overdueSteps([answered], it.dueAt + 100 * H)).toEqual([]);
    const reopened = applyStep(answered, { kind: 'rejected', id: it.id, at: it.dueAt + 2 * H, by: 'center', dueAt: it.dueAt + 74 * H });
    expect(overdueSteps([reopened], it.dueAt + 74 * H)).toHaveLength(1);
  });
});

describe('risk item assignment and notices', () => {
  const P = (id: string, roles: string[], stations: string[] = [], active = true): Person => ({ id, name: `N-${id}`, phone: `1380000${id.padStart(4, '0')}`, roles, stations, active });
  const people = [P('1', ['station_head'], ['east']), P('2', ['station_manager'], ['east', 'west']), P('3', ['on_call']), P('4', ['leader']), P('5', ['leader'], ['west']), P('6', ['station_head'], ['east'], false), P('7', ['on_call'], ['east'])];
  const routing = { stationRoles: ['station_head', 'station_manager'], onDutyRoles: ['on_call'], leaderRoles: ['leader'] };

  it('assigns the station\'s responsible people; none → the center\'s on-duty, said in the text; nobody → unassigned', () => {
    expect(assignFor(people, 'east', routing).assignees.map((a) => a.id)).toEqual(['1', '2']);
    const north = assignFor(people, 'north', routing);
    expect(north.assignees.map((a) => a.id)).toEqual(['3']);
    expect(north.text).toMatch(/no responsible person of north .* center's on-duty/);
    expect(assignFor([], 'north', routing)).toEqual({ assignees: [], text: expect.stringMatching(/unassigned$/), ev: { k: 'unassigned', p: { station: 'north', dutyRoles: expect.any(Array) } } });
    expect(leadersFor(people, 'west', routing).map((p) => p.id)).toEqual(['4', '5']);
    expect(leadersFor(people, 'east', routing).map((p) => p.id)).toEqual(['4']);
  });

  it('builds the opening notice (Chinese, link to the item) per assignee and the escalation per leader, keyed once', () => {
    const it = [...run([[day('east', 2, 'red')]]).items.values()][0]!;
    const item = { ...it, assignees: [{ id: '1', name: 'N-1' }, { id: '6', name: 'N-6' }] };
    const ctx = { lang: 'zh' as const, tzOffsetMin: 480, dashboardUrl: 'https://gw.example/', stationName: (s: string) => (s === 'east' ? '东区供电所' : s) };
    const o = openedNotices(item, people, ctx);
    // the inactive person gets nothing
    expect(o).toHaveLength(1);
    expect(o[0]).toMatchObject({ key: `risk-item:${it.id}:opened:1`, template: 'risk_item_opened', purpose: 'risk_report', ref: { kind: 'risk-item', id: it.id }, vars: { site: '东区供电所', code: '红色', driving: '千户报修率', due: '11-03 06:00', link: `https://gw.example/#/risk/items/${it.id}` } });
    const e = escalationNotices(item, leadersFor(people, 'east', routing), ctx);
    expect(e.map((m) => m.key)).toEqual([`risk-item:${it.id}:escalated:${it.dueAt}:4`]);
    expect(e[0]!.vars.assignees).toBe('N-1、N-6');
    expect(itemLink({ dashboardUrl: 'http://h:1/#/old' }, 'a b')).toBe('http://h:1/#/risk/items/a%20b');
  });
});
