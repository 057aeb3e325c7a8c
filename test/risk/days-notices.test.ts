/**
 * Pure parts of the risk runtime: days in the model's time zone and the
 * window a day's indicators cover; plan notices counted late or wrong (late,
 * overrun, not executed, a changed list with customers not told; not a plan
 * never sent, one on time, one outside the window; once per station touched).
 */
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../server/outages/types.ts';
import { addDays, dayOf, dayStart, isDay, noticesLateOrWrong, windowOf } from '../../server/risk/index.ts';

const H = 3_600_000;

describe('days', () => {
  it('calendar days only; the day of an instant and its start in a zone; the window ends now for today', () => {
    expect(['2026-02-28', '2024-02-29', '2026-12-31'].every(isDay)).toBe(true);
    expect(['2026-02-29', '2026-13-01', '2026-1-01', '20260101', 'x', 1].some(isDay)).toBe(false);
    // 23:30 UTC on 6 Dec is 07:30 on 7 Dec at +08:00, and 18:30 on 6 Dec at -05:00
    const t = Date.UTC(2026, 11, 6, 23, 30);
    expect(dayOf(t, '+08:00')).toBe('2026-12-07');
    expect(dayOf(t, '-05:00')).toBe('2026-12-06');
    expect(dayStart('2026-12-07', '+08:00')).toBe(Date.UTC(2026, 11, 6, 16));
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(windowOf('2026-12-07', 30, '+08:00', Date.UTC(2027, 0, 1))).toEqual({ from: Date.UTC(2026, 10, 7, 16), to: Date.UTC(2026, 11, 7, 16) });
    expect(windowOf('2026-12-07', 1, '+08:00', t).to).toBe(t);
  });
});

describe('notices late or wrong', () => {
  const from = Date.UTC(2026, 10, 1);
  const to = Date.UTC(2026, 11, 1);
  const plan = (id: string, over: Partial<Plan>): Plan => ({
    id, sites: ['s1'], scope: [], start: from + 24 * H, end: from + 28 * H, reason: '检修', workOrder: '', crew: '', state: 'done', late: false, customers: [], confirmedCustomers: [],
    pendingChange: null, createdBy: 'op', createdAt: from - 240 * H, confirmedAt: from - 200 * H, outages: [], warnings: [], ...over,
  });
  it('counts each plan once per station it touches', () => {
    const plans = [
      plan('late', { late: true, sites: ['s1', 's2'] }),
      plan('overrun', { state: 'overrun' }),
      plan('not-executed', { state: 'not_executed' }),
      plan('changed', { state: 'notified', pendingChange: { at: from, added: ['C9'], removed: [] } }),
      plan('removed-only', { state: 'notified', pendingChange: { at: from, added: [], removed: ['C1'] } }),
      plan('on-time', {}),
      plan('never-sent', { late: true, confirmedAt: undefined, state: 'draft' }),
      plan('before', { late: true, start: from - H }),
      plan('after', { late: true, start: to }),
    ];
    const r = noticesLateOrWrong(plans, ['s1', 's2', 's3'], { from, to });
    expect(Object.fromEntries([...r].map(([s, v]) => [s, v['notices-late-or-wrong']]))).toEqual({ s1: 4, s2: 1, s3: 0 });
  });
});
