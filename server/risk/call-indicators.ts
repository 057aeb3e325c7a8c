/**
 * One-key call indicators of stations from the alarm journal (docs/risk.md,
 * Indicators from the alarm journal). A one-key call is an alarm of a `call`
 * rule whose source is the station; presses while it is active are one call.
 * A call begins with its annunciation (a transition into `unack_active` of an
 * alarm with no call open) and is *taken* by its acknowledgement. Counted for
 * the window [from, to) by the time it began. Pure.
 */
import type { JournalEntry } from '../../contract/index.ts';
import { annunciates } from '../rules/alarm.ts';

export interface CallHandling {
  /** calls that began in the window */
  'one-key-calls': number;
  /** mean seconds from a call to its being taken, over the calls taken; null when none was */
  'one-key-answer-time': number | null;
}

export function oneKeyCalls(
  entries: readonly JournalEntry[],
  isCallRule: (ruleId: string) => boolean,
  stationOf: (source: string) => string | undefined,
  stations: readonly string[],
  window: { from: number; to: number },
): Map<string, CallHandling> {
  const acc = new Map(stations.map((s) => [s, { calls: 0, answerMs: [] as number[] }]));
  const open = new Map<string, { station: string; at: number; counted: boolean }>();
  const sorted = [...entries].sort((a, b) => a.at - b.at || a.seq - b.seq);
  for (const e of sorted) {
    if (e.at >= window.to) break;
    if (e.kind !== 'transition' || !isCallRule(e.ruleId)) continue;
    const station = stationOf(e.source);
    const a = station === undefined ? undefined : acc.get(station);
    if (a === undefined || station === undefined) continue;
    const current = open.get(e.alarmId);
    if (annunciates(e) && current === undefined) {
      const counted = e.at >= window.from;
      if (counted) a.calls++;
      open.set(e.alarmId, { station, at: e.at, counted });
    } else if (e.reason === 'acknowledge' && current !== undefined) {
      if (current.counted) a.answerMs.push(e.at - current.at);
      open.delete(e.alarmId);
    } else if (e.to === 'normal') open.delete(e.alarmId);
  }
  return new Map(
    [...acc].map(([s, a]) => [
      s,
      {
        'one-key-calls': a.calls,
        'one-key-answer-time': a.answerMs.length > 0 ? Math.round((a.answerMs.reduce((x, y) => x + y, 0) / a.answerMs.length / 1000) * 100) / 100 : null,
      },
    ]),
  );
}
