/**
 * Report periods (docs/risk.md, Reports): a day, an ISO week, a calendar
 * month, or a station report's from–to range, as the stations' local days
 * (YYYY-MM-DD in the model's time zone). Pure: `today` is passed in.
 * Parsing never throws; a bad period comes back with the reason.
 */

export type PeriodKind = 'station' | 'daily' | 'weekly' | 'monthly';

export interface Period {
  kind: PeriodKind;
  /** what the period is called: 2026-12-06, 2026-W49, 2026-12, 2026-11-07–2026-12-06 */
  label: string;
  /** first and last day, inclusive */
  from: string;
  to: string;
  /** every day of the period in order */
  days: string[];
}

export type PeriodResult = { ok: true; period: Period } | { ok: false; reason: string };

const DAY_MS = 86_400_000;
/** longest station report, days */
export const MAX_STATION_DAYS = 366;

/** 'YYYY-MM-DD' → UTC midnight ms of that calendar date, or null when it is not a real date. */
export function dayMs(day: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d ? ms : null;
}

export function dayOf(utcMidnightMs: number): string {
  return new Date(utcMidnightMs).toISOString().slice(0, 10);
}

export function addDays(day: string, n: number): string {
  return dayOf(dayMs(day)! + n * DAY_MS);
}

export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = dayMs(from)!, end = dayMs(to)!; t <= end; t += DAY_MS) out.push(dayOf(t));
  return out;
}

/** `+08:00` → ms east of UTC */
export function offsetMs(tz: string): number {
  if (tz === 'Z') return 0;
  const sign = tz.startsWith('-') ? -1 : 1;
  const [h, m] = tz.slice(1).split(':').map(Number);
  return sign * ((h ?? 0) * 60 + (m ?? 0)) * 60_000;
}

/** The local day of an instant in the zone `tz`. */
export function localDay(ms: number, tz: string): string {
  return new Date(ms + offsetMs(tz)).toISOString().slice(0, 10);
}

/** Epoch ms of a local day's midnight in `tz`. */
export function dayStart(day: string, tz: string): number {
  return dayMs(day)! - offsetMs(tz);
}

/** ISO 8601 week of a day: `2026-W49` (the week with the year's first Thursday is week 1). */
export function isoWeekOf(day: string): string {
  const t = dayMs(day)!;
  const dow = (new Date(t).getUTCDay() + 6) % 7; // Monday 0
  const thursday = t + (3 - dow) * DAY_MS;
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / DAY_MS / 7) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** Monday of ISO week 1 of `year` */
function week1Monday(year: number): number {
  const jan4 = Date.UTC(year, 0, 4);
  return jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY_MS;
}

function checkNotFuture(p: Period, today: string): PeriodResult {
  if (p.from > today) return { ok: false, reason: `${p.label} has not begun (today is ${today} in the model's time zone)` };
  return { ok: true, period: p };
}

export function dailyPeriod(day: string, today: string): PeriodResult {
  if (dayMs(day) === null) return { ok: false, reason: `day: not a date YYYY-MM-DD: ${day}` };
  return checkNotFuture({ kind: 'daily', label: day, from: day, to: day, days: [day] }, today);
}

export function weeklyPeriod(week: string, today: string): PeriodResult {
  const m = /^(\d{4})-W(\d{2})$/.exec(week);
  if (!m) return { ok: false, reason: `week: not an ISO week YYYY-Www: ${week}` };
  const year = Number(m[1]);
  const n = Number(m[2]);
  const weeks = (week1Monday(year + 1) - week1Monday(year)) / DAY_MS / 7;
  if (n < 1 || n > weeks) return { ok: false, reason: `week: ${year} has weeks 01–${weeks}, not ${m[2]}` };
  const from = dayOf(week1Monday(year) + (n - 1) * 7 * DAY_MS);
  const to = addDays(from, 6);
  return checkNotFuture({ kind: 'weekly', label: week, from, to, days: daysBetween(from, to) }, today);
}

export function monthlyPeriod(month: string, today: string): PeriodResult {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) return { ok: false, reason: `month: not a month YYYY-MM: ${month}` };
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const from = dayOf(Date.UTC(y, mo - 1, 1));
  const to = dayOf(Date.UTC(y, mo, 0));
  return checkNotFuture({ kind: 'monthly', label: month, from, to, days: daysBetween(from, to) }, today);
}

/** A station report's range; `to` defaults to today, `from` to 29 days before `to`. */
export function stationPeriod(from: string | undefined, to: string | undefined, today: string): PeriodResult {
  const end = to ?? today;
  if (dayMs(end) === null) return { ok: false, reason: `to: not a date YYYY-MM-DD: ${end}` };
  const start = from ?? addDays(end, -29);
  if (dayMs(start) === null) return { ok: false, reason: `from: not a date YYYY-MM-DD: ${start}` };
  if (start > end) return { ok: false, reason: `from (${start}) is after to (${end})` };
  const days = daysBetween(start, end);
  if (days.length > MAX_STATION_DAYS) return { ok: false, reason: `from–to covers ${days.length} days; at most ${MAX_STATION_DAYS}` };
  return checkNotFuture({ kind: 'station', label: `${start} – ${end}`, from: start, to: end, days }, today);
}
