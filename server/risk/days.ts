/**
 * Days of the risk model (docs/risk.md, Runtime): a station's day is a
 * calendar day in the model's time zone (`timezone`, a fixed UTC offset),
 * written YYYY-MM-DD. Pure.
 */
const DAY_MS = 86_400_000;

export const DAY_RE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** `+08:00` → 8 h in ms */
export function offsetMs(timezone: string): number {
  const sign = timezone.startsWith('-') ? -1 : 1;
  const [h, m] = timezone.slice(1).split(':').map(Number) as [number, number];
  return sign * (h * 60 + m) * 60_000;
}

/** Whether `s` is a real calendar day (2026-02-30 is not). */
export function isDay(s: unknown): s is string {
  if (typeof s !== 'string' || !DAY_RE.test(s)) return false;
  return new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) === s;
}

/** The day an instant falls on in `timezone`. */
export function dayOf(ms: number, timezone: string): string {
  return new Date(ms + offsetMs(timezone)).toISOString().slice(0, 10);
}

/** The instant the day begins in `timezone`. */
export function dayStart(day: string, timezone: string): number {
  return Date.parse(`${day}T00:00:00Z`) - offsetMs(timezone);
}

/** The day `n` days after `day` (negative: before). */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/** Days from `from` to `to`, both included, in order. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

/**
 * The window the indicators of `day` cover: the `windowDays` days ending with
 * it, [from, to). A day not over yet (today) ends at `now`.
 */
export function windowOf(day: string, windowDays: number, timezone: string, now: number): { from: number; to: number } {
  const to = Math.min(dayStart(addDays(day, 1), timezone), now);
  return { from: dayStart(addDays(day, -(windowDays - 1)), timezone), to };
}
