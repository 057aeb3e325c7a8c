/**
 * Alarm-handling indicators from the alarm journal: transitions made by the
 * real alarm state machine (applyOp) and escalation entries, counted per
 * station for a window — mean time to acknowledge (including an
 * acknowledgement after the condition returned), escalations, annunciations
 * never acknowledged; annunciations begun outside the window, sources of no
 * station, stations without alarms, a raise into suppression.
 */
import { describe, expect, it } from 'vitest';
import type { Alarm, EscalationEntry, JournalEntry } from '../../contract/index.ts';
import { applyOp, type AlarmOp } from '../../server/rules/alarm.ts';
import { alarmHandling } from '../../server/risk/index.ts';

const MIN = 60_000;
const FROM = Date.UTC(2026, 10, 1);
const TO = FROM + 30 * 1440 * MIN;

function journal(ops: Array<[number, AlarmOp]>, escalations: Array<Omit<EscalationEntry, 'kind' | 'seq'>>): JournalEntry[] {
  const alarms = new Map<string, Alarm | undefined>();
  const out: JournalEntry[] = [];
  let seq = 0;
  for (const [at, op] of ops) {
    const r = applyOp(alarms.get(op.alarmId), op, at);
    if (!r.ok) throw new Error(`${op.op} ${op.alarmId} refused`);
    alarms.set(op.alarmId, r.alarm);
    for (const t of r.transitions) out.push({ ...t, kind: 'transition', seq: ++seq });
  }
  for (const e of escalations) out.push({ ...e, kind: 'escalation', seq: ++seq });
  return out;
}

const raise = (alarmId: string): AlarmOp => ({ op: 'raise', alarmId, severity: 2 });
const clear = (alarmId: string): AlarmOp => ({ op: 'clear', alarmId });
const ack = (alarmId: string): AlarmOp => ({ op: 'acknowledge', alarmId, by: 'op1' });
const esc = (alarmId: string, at: number, since: number) => ({ at, alarmId, ruleId: 'u-high', source: alarmId.split(':')[1]!, severity: 2 as const, since, target: 'http://127.0.0.1/sms', attempts: 1, delivered: true });

describe('alarm handling per station', () => {
  it('ack time, escalations and unacknowledged annunciations of the window', () => {
    const t = FROM + 1440 * MIN;
    const entries = journal(
      [
        [FROM - 60 * MIN, raise('u-high:s1-m9')], // began before the window: not counted
        [FROM + 30 * MIN, ack('u-high:s1-m9')],
        [t, raise('u-high:s1-m1')],
        [t + 10 * MIN, ack('u-high:s1-m1')],
        [t + 20 * MIN, clear('u-high:s1-m1')],
        [t + 60 * MIN, raise('u-high:s1-m2')],
        [t + 65 * MIN, clear('u-high:s1-m2')], // returned unacknowledged, acknowledged later
        [t + 90 * MIN, ack('u-high:s1-m2')],
        [t + 100 * MIN, raise('u-high:s2-m3')], // never acknowledged
        [t + 110 * MIN, clear('u-high:s2-m3')],
        [t + 200 * MIN, raise('u-high:zz-m4')], // a source of no station
        [TO + MIN, raise('u-high:s2-m5')], // after the window
      ],
      [esc('u-high:s2-m3', t + 115 * MIN, t + 100 * MIN), esc('u-high:s1-m9', FROM - MIN, FROM - 60 * MIN)],
    );
    const r = alarmHandling(entries, (source) => (source.startsWith('zz') ? undefined : source.slice(0, 2)), ['s1', 's2', 's3'], { from: FROM, to: TO });
    expect(Object.fromEntries(r)).toEqual({
      s1: { 'ack-time-mean': 20, escalations: 0, 'unacknowledged-alarms': 0 },
      s2: { 'ack-time-mean': null, escalations: 1, 'unacknowledged-alarms': 1 },
      s3: { 'ack-time-mean': null, escalations: 0, 'unacknowledged-alarms': 0 },
    });
  });

  it('a raise again after an acknowledged return begins a new annunciation; a raise into suppression begins none', () => {
    const t = FROM + MIN;
    const entries = journal(
      [
        [t, raise('u-high:s1-m1')],
        [t + 4 * MIN, ack('u-high:s1-m1')],
        [t + 5 * MIN, clear('u-high:s1-m1')],
        [t + 50 * MIN, raise('u-high:s1-m1')],
        [t + 60 * MIN, { op: 'raise', alarmId: 'u-high:s1-m2', severity: 2, suppress: 'source suppressed by design' }], // never annunciates
      ],
      [],
    );
    const r = alarmHandling(entries, (s) => s.slice(0, 2), ['s1'], { from: FROM, to: TO });
    expect(r.get('s1')).toEqual({ 'ack-time-mean': 4, escalations: 0, 'unacknowledged-alarms': 1 });
  });
});
