/**
 * Alarm-handling indicators of stations from the alarm journal (docs/risk.md,
 * Indicators from the alarm journal). Pure: the caller reads the journal
 * entries and says which station an alarm's source belongs to.
 *
 * An *annunciation* begins with a transition into `unack_active` (not a raise
 * into suppression or while shelved) of an alarm that has no unacknowledged
 * annunciation open, and ends when the alarm returns to
 * `normal`. Counted for the window [from, to) by the time it began.
 */
import type { JournalEntry } from '../../contract/index.ts';
import { annunciates } from '../rules/alarm.ts';

export interface AlarmHandling {
  /** mean minutes from the raise to the acknowledgement; null when nothing was acknowledged */
  'ack-time-mean': number | null;
  /** escalations (sent to the webhook, delivered or not) in the window */
  escalations: number;
  /** annunciations of the window that ended, or were still open at `to`, without an acknowledgement */
  'unacknowledged-alarms': number;
}

export function alarmHandling(
  entries: readonly JournalEntry[],
  stationOf: (source: string) => string | undefined,
  stations: readonly string[],
  window: { from: number; to: number },
): Map<string, AlarmHandling> {
  const acc = new Map(stations.map((s) => [s, { ackMs: [] as number[], escalations: 0, unacked: 0 }]));
  const open = new Map<string, { station: string; at: number; counted: boolean }>();
  const inWindow = (t: number) => t >= window.from && t < window.to;
  const sorted = [...entries].sort((a, b) => a.at - b.at || a.seq - b.seq);
  for (const e of sorted) {
    if (e.at >= window.to) break;
    if (e.kind === 'escalation') {
      const a = acc.get(stationOf(e.source) ?? '');
      if (a && inWindow(e.at)) a.escalations++;
      continue;
    }
    if (e.kind !== 'transition') continue;
    const station = stationOf(e.source);
    const a = station === undefined ? undefined : acc.get(station);
    if (a === undefined || station === undefined) continue;
    const current = open.get(e.alarmId);
    if (annunciates(e) && current === undefined) {
      open.set(e.alarmId, { station, at: e.at, counted: inWindow(e.at) });
    } else if (e.reason === 'acknowledge' && current !== undefined) {
      if (current.counted) a.ackMs.push(e.at - current.at);
      open.delete(e.alarmId);
      continue;
    }
    if (e.to === 'normal' && open.has(e.alarmId)) {
      const o = open.get(e.alarmId)!;
      if (o.counted) acc.get(o.station)!.unacked++;
      open.delete(e.alarmId);
    }
  }
  for (const o of open.values()) if (o.counted) acc.get(o.station)!.unacked++;
  return new Map(
    [...acc].map(([s, a]) => [
      s,
      {
        'ack-time-mean': a.ackMs.length > 0 ? Math.round((a.ackMs.reduce((x, y) => x + y, 0) / a.ackMs.length / 60_000) * 100) / 100 : null,
        escalations: a.escalations,
        'unacknowledged-alarms': a.unacked,
      },
    ]),
  );
}
