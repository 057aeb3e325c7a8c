import { describe, expect, it } from 'vitest';
import { alarmHealth, applyOp, type Alarm, type AlarmOp, type AlarmTransition } from '../../server/rules/index.ts';
import { T0 } from './helpers.ts';

const MIN = 60_000;
const H = 3_600_000;

/** Builds a journal by applying ops at their times. */
function journalOf(ops: [number, AlarmOp][]): AlarmTransition[] {
  const alarms = new Map<string, Alarm>();
  const out: AlarmTransition[] = [];
  for (const [at, op] of ops.sort((a, b) => a[0] - b[0])) {
    const r = applyOp(alarms.get(op.alarmId), op, at);
    if (!r.ok) throw new Error(r.error.message);
    if (r.alarm) alarms.set(op.alarmId, r.alarm);
    out.push(...r.transitions);
  }
  return out.map((t, i) => ({ ...t, seq: i + 1 }));
}
const raise = (alarmId: string, extra: Partial<Extract<AlarmOp, { op: 'raise' }>> = {}): AlarmOp => ({ op: 'raise', alarmId, severity: 3, ...extra });
const clear = (alarmId: string): AlarmOp => ({ op: 'clear', alarmId });

describe('alarm-system health (ISA-18.2 §16)', () => {
  const ops: [number, AlarmOp][] = [
    // a flood at the east position: 12 alarms in the 10 minutes from 00:10
    ...Array.from({ length: 12 }, (_, i): [number, AlarmOp] => [T0 + 10 * MIN + i * 10_000, raise(`f:e${i + 1}`)]),
    // three alarms at the west position at 00:25
    ...[1, 2, 3].map((i): [number, AlarmOp] => [T0 + 25 * MIN, raise(`w:w${i}`)]),
    // chattering: three activations within 40 s
    [T0 + 40 * MIN, raise('ch:e-chat')],
    [T0 + 40 * MIN + 10_000, clear('ch:e-chat')],
    [T0 + 40 * MIN + 20_000, raise('ch:e-chat')],
    [T0 + 40 * MIN + 30_000, clear('ch:e-chat')],
    [T0 + 40 * MIN + 40_000, raise('ch:e-chat')],
    // the same count, 3 minutes apart: not chattering
    [T0 + 1 * MIN, raise('sl:w-slow')],
    [T0 + 2 * MIN, clear('sl:w-slow')],
    [T0 + 4 * MIN, raise('sl:w-slow')],
    [T0 + 5 * MIN, clear('sl:w-slow')],
    [T0 + 7 * MIN, raise('sl:w-slow')],
    // raised into suppression: never annunciated, not counted
    [T0 + 30 * MIN, raise('sup:e-sup', { suppress: 'outage of transformer s1/t1' })],
    // active since before the window: 26 h and 24 h old at its end
    [T0 - 25 * H, raise('old:w-old')],
    [T0 - 23 * H, raise('young:w-young')],
  ];
  const journal = journalOf(ops);
  const health = alarmHealth(journal, {
    from: T0,
    to: T0 + H,
    positionOf: (t) => (t.source.startsWith('e') ? 'east' : 'west'),
  });

  it('alarms per 10 minutes, per position and in total', () => {
    expect(health.alarms).toBe(21);
    expect(health.perInterval).toBe(3.5);
    expect(health.positions).toEqual([
      { position: 'east', alarms: 15, perInterval: 2.5, peak: 12, peakAt: T0 + 10 * MIN, floodIntervals: 1, floodMs: 10 * MIN },
      { position: 'west', alarms: 6, perInterval: 1, peak: 3, peakAt: T0, floodIntervals: 0, floodMs: 0 },
    ]);
  });

  it('time in flood (> 10 alarms in 10 minutes at one position)', () => {
    expect(health.flood.intervals).toEqual([{ position: 'east', start: T0 + 10 * MIN, end: T0 + 20 * MIN, alarms: 12 }]);
    expect(health.flood.timeMs).toBe(10 * MIN);
    expect(health.flood.pct).toBeCloseTo(100 / 6, 10);
  });

  it('chattering (≥ 3 activations within 1 minute)', () => {
    expect(health.chattering).toEqual([{ alarmId: 'ch:e-chat', maxInWindow: 3, episodes: 1 }]);
  });

  it('top 10 most frequent', () => {
    expect(health.top.map((x) => [x.alarmId, x.alarms])).toEqual([
      ['ch:e-chat', 3],
      ['sl:w-slow', 3],
      ['f:e1', 1],
      ['f:e10', 1],
      ['f:e11', 1],
      ['f:e12', 1],
      ['f:e2', 1],
      ['f:e3', 1],
      ['f:e4', 1],
      ['f:e5', 1],
    ]);
    expect(health.top[0]!.pct).toBeCloseTo((3 / 21) * 100, 10);
  });

  it('stale alarms (active for more than 24 h)', () => {
    expect(health.stale).toEqual([{ alarmId: 'old:w-old', state: 'unack_active', activeSince: T0 - 25 * H, ageMs: 26 * H }]);
  });

  it('an empty journal is healthy', () => {
    const h = alarmHealth([], { from: T0, to: T0 + H });
    expect([h.alarms, h.perInterval, h.flood.timeMs, h.chattering, h.top, h.stale]).toEqual([0, 0, 0, [], [], []]);
  });
});
