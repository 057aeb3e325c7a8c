/**
 * Interval boundaries aligned to a zone: a 15-min, hour or day interval
 * begins at local k·length, i.e. at epoch + k·length − utcOffset (days at
 * local midnight; +08:00 by default, docs/energy.md).
 */
import { INTERVAL_MS, type IntervalKind } from './types.ts';

/** Start (epoch ms) of the interval holding `ts`. */
export function intervalStart(ts: number, kind: IntervalKind, utcOffsetMs: number): number {
  const len = INTERVAL_MS[kind];
  return Math.floor((ts + utcOffsetMs) / len) * len - utcOffsetMs;
}

/** Starts of the intervals that lie wholly inside [from, to). */
export function intervalsIn(from: number, to: number, kind: IntervalKind, utcOffsetMs: number): number[] {
  const len = INTERVAL_MS[kind];
  let s = intervalStart(from, kind, utcOffsetMs);
  if (s < from) s += len;
  const out: number[] = [];
  for (; s + len <= to; s += len) out.push(s);
  return out;
}

/** `+08:00` / `-05:30` / `Z` → ms east of UTC; null when not such a string. */
export function parseUtcOffset(tz: string): number | null {
  if (tz === 'Z') return 0;
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(tz);
  if (!m) return null;
  const h = Number(m[2]);
  const min = Number(m[3]);
  if (h > 14 || min > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (h * 60 + min) * 60_000;
}
