/**
 * Alarm-system health figures (ANSI/ISA-18.2 "monitoring and assessment";
 * EEMUA 191 for the usual thresholds), computed from the journal of
 * transitions. Pure.
 *
 * Counted as "an alarm": an annunciation, i.e. a transition into
 * `unack_active` from another state (a raise, a re-alarm before
 * acknowledgement, a more severe level after acknowledgement, a return from
 * shelving / suppression / out of service while active). Raises into a
 * hidden state are not annunciated and not counted.
 *
 * - alarms per 10 minutes: clock-aligned 10-min intervals; ISA-18.2's
 *   performance targets aim at ~1 (at most 2) per operator position;
 * - flood: an interval with more than 10 alarms for one operator position;
 *   time in flood is the union of flooded intervals over positions;
 * - chattering: ≥ 3 activations of the condition within 1 minute (the
 *   usual reading of ISA-18.2's definition; EEMUA 191);
 * - top 10: the most frequent alarms, with their share of all alarms;
 * - stale: condition active and visible for more than 24 h at the end of the window.
 */
import { rebuild, type AlarmTransition } from './alarm.ts';

export interface HealthOptions {
  /** epoch ms, start of the assessed window (inclusive) */
  from: number;
  /** epoch ms, end of the assessed window (exclusive); stale alarms are judged at this time */
  to: number;
  /** operator position responsible for an alarm (default: one position, "all") */
  positionOf?: (t: AlarmTransition) => string;
  intervalMs?: number;
  floodThreshold?: number;
  chatterCount?: number;
  chatterWindowMs?: number;
  staleMs?: number;
  top?: number;
}

export interface PositionHealth {
  position: string;
  alarms: number;
  /** mean alarms per interval over the window */
  perInterval: number;
  /** most alarms in one interval */
  peak: number;
  peakAt: number | null;
  floodIntervals: number;
  floodMs: number;
}

export interface AlarmHealth {
  from: number;
  to: number;
  intervalMs: number;
  /** annunciations in the window */
  alarms: number;
  /** mean alarms per interval (10 min) over all positions together */
  perInterval: number;
  positions: PositionHealth[];
  flood: {
    intervals: { position: string; start: number; end: number; alarms: number }[];
    /** union of flooded intervals over positions, clipped to the window */
    timeMs: number;
    /** timeMs as a share of the window, % */
    pct: number;
  };
  chattering: { alarmId: string; maxInWindow: number; episodes: number }[];
  top: { alarmId: string; alarms: number; pct: number }[];
  stale: { alarmId: string; state: string; activeSince: number; ageMs: number }[];
}

function ordered(events: readonly AlarmTransition[]): AlarmTransition[] {
  if (events.every((e) => e.seq !== undefined)) return events.slice().sort((a, b) => a.seq! - b.seq!);
  return events
    .map((e, i) => [e, i] as const)
    .sort((a, b) => a[0].at - b[0].at || a[1] - b[1])
    .map((x) => x[0]);
}

export function alarmHealth(events: readonly AlarmTransition[], opts: HealthOptions): AlarmHealth {
  const intervalMs = opts.intervalMs ?? 600_000;
  const floodThreshold = opts.floodThreshold ?? 10;
  const chatterCount = opts.chatterCount ?? 3;
  const chatterWindowMs = opts.chatterWindowMs ?? 60_000;
  const staleMs = opts.staleMs ?? 86_400_000;
  const topN = opts.top ?? 10;
  const positionOf = opts.positionOf ?? (() => 'all');
  const { from, to } = opts;
  const span = Math.max(0, to - from);
  const intervals = Math.max(1, Math.ceil(span / intervalMs));

  const list = ordered(events);
  const wasActive = new Map<string, boolean>();
  const activations = new Map<string, number[]>();
  const perAlarm = new Map<string, number>();
  // position → interval start → count
  const perPosition = new Map<string, Map<number, number>>();
  let alarms = 0;
  for (const t of list) {
    const before = wasActive.get(t.alarmId) ?? false;
    wasActive.set(t.alarmId, t.active);
    if (t.at < from || t.at >= to) continue;
    if (t.reason === 'raise' && !before && t.active) {
      const l = activations.get(t.alarmId) ?? [];
      l.push(t.at);
      activations.set(t.alarmId, l);
    }
    if (t.to !== 'unack_active' || t.from === 'unack_active') continue;
    alarms++;
    perAlarm.set(t.alarmId, (perAlarm.get(t.alarmId) ?? 0) + 1);
    const pos = positionOf(t);
    const m = perPosition.get(pos) ?? new Map<number, number>();
    const start = Math.floor(t.at / intervalMs) * intervalMs;
    m.set(start, (m.get(start) ?? 0) + 1);
    perPosition.set(pos, m);
  }

  const floodList: AlarmHealth['flood']['intervals'] = [];
  const positions: PositionHealth[] = [];
  for (const [position, m] of [...perPosition].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    let peak = 0;
    let peakAt: number | null = null;
    let total = 0;
    let floodIntervals = 0;
    let floodMs = 0;
    for (const [start, count] of [...m].sort((a, b) => a[0] - b[0])) {
      total += count;
      if (count > peak) {
        peak = count;
        peakAt = start;
      }
      if (count > floodThreshold) {
        floodIntervals++;
        const end = start + intervalMs;
        floodMs += Math.min(end, to) - Math.max(start, from);
        floodList.push({ position, start, end, alarms: count });
      }
    }
    positions.push({ position, alarms: total, perInterval: total / intervals, peak, peakAt, floodIntervals, floodMs });
  }
  const floodStarts = new Set(floodList.map((f) => f.start));
  let floodTime = 0;
  for (const s of floodStarts) floodTime += Math.min(s + intervalMs, to) - Math.max(s, from);

  const chattering: AlarmHealth['chattering'] = [];
  for (const [alarmId, times] of activations) {
    let maxIn = 0;
    let episodes = 0;
    let lo = 0;
    let inEpisode = false;
    for (let hi = 0; hi < times.length; hi++) {
      while (times[hi]! - times[lo]! > chatterWindowMs) lo++;
      const n = hi - lo + 1;
      maxIn = Math.max(maxIn, n);
      if (n >= chatterCount && !inEpisode) {
        episodes++;
        inEpisode = true;
      } else if (n < chatterCount) inEpisode = false;
    }
    if (maxIn >= chatterCount) chattering.push({ alarmId, maxInWindow: maxIn, episodes });
  }
  chattering.sort((a, b) => b.maxInWindow - a.maxInWindow || b.episodes - a.episodes || (a.alarmId < b.alarmId ? -1 : 1));

  const top = [...perAlarm]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, topN)
    .map(([alarmId, n]) => ({ alarmId, alarms: n, pct: alarms ? (n / alarms) * 100 : 0 }));

  const stale: AlarmHealth['stale'] = [];
  for (const a of rebuild(list.filter((t) => t.at < to)).values()) {
    if (!a.active || a.activeSince === null) continue;
    if (a.state !== 'unack_active' && a.state !== 'ack_active') continue;
    const ageMs = to - a.activeSince;
    if (ageMs > staleMs) stale.push({ alarmId: a.alarmId, state: a.state, activeSince: a.activeSince, ageMs });
  }
  stale.sort((a, b) => b.ageMs - a.ageMs);

  return {
    from,
    to,
    intervalMs,
    alarms,
    perInterval: alarms / intervals,
    positions,
    flood: { intervals: floodList, timeMs: floodTime, pct: span ? (floodTime / span) * 100 : 0 },
    chattering,
    top,
    stale,
  };
}
