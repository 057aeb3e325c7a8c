/**
 * Indicators read from the stored readings, per station and local day
 * (docs/risk.md, Indicators from the store):
 *
 * - `heavy-load-hours`: hours in which a transformer's mean load rate
 *   (`load_rate`, from its transformer meter) was at or above
 *   HEAVY_LOAD_PCT (overload hours, ≥ 100 %, among them), summed over the
 *   station's transformers. No data when no
 *   transformer of the station had a load rate in the window.
 * - `meter-comm-availability`: the share of 15-minute intervals in which each
 *   of the station's meters (transformer and line meters) sent a reading,
 *   over all its meters, %. No data when none of them sent anything in the
 *   window (a station whose meters have never reported says nothing about
 *   communication; the comm-loss alarms speak for a meter that went silent).
 *
 * A complete day's figures are kept, so a daily run reads one new day.
 */
import type { Site } from '../../contract/index.ts';
import type { TelemetryStore } from '../store/types.ts';
import { addDays, dayOf, dayStart, daysBetween, offsetMs } from './days.ts';

export const HEAVY_LOAD_PCT = 80;
const HOUR_MS = 3_600_000;
const QUARTER_MS = 900_000;
const METERS_PER_READ = 50;
/** quantities every meter reports one of: a reading with any of them is a reading */
const PRESENCE = ['ua', 'p', 'ia'] as const;

interface DayFigures {
  heavyHours: number;
  /** transformers with any load rate that day */
  loadSeen: number;
  /** meter × 15-min intervals with a reading, and expected */
  present: number;
  expected: number;
  /** meters with any reading that day */
  reporting: number;
}

export interface StoreIndicators {
  'heavy-load-hours': number | null;
  'meter-comm-availability': number | null;
}

export class StoreIndicatorReader {
  private readonly cache = new Map<string, DayFigures>();

  constructor(private readonly store: TelemetryStore, private readonly timezone: string) {}

  async read(sites: readonly Site[], window: { from: number; to: number }, now: number): Promise<Map<string, StoreIndicators>> {
    const days = daysBetween(dayOf(window.from, this.timezone), dayOf(window.to - 1, this.timezone));
    const out = new Map<string, StoreIndicators>();
    for (const site of sites) {
      const sum: DayFigures = { heavyHours: 0, loadSeen: 0, present: 0, expected: 0, reporting: 0 };
      for (const day of days) {
        const f = await this.day(site, day, window.to, now);
        for (const k of Object.keys(sum) as (keyof DayFigures)[]) sum[k] += f[k];
      }
      out.set(site.id, {
        'heavy-load-hours': sum.loadSeen > 0 ? sum.heavyHours : null,
        'meter-comm-availability': sum.reporting > 0 && sum.expected > 0 ? Math.round((sum.present / sum.expected) * 100 * 100) / 100 : null,
      });
    }
    if (this.cache.size > 200_000) this.cache.clear();
    return out;
  }

  private async day(site: Site, day: string, windowTo: number, now: number): Promise<DayFigures> {
    const key = `${site.id}/${day}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const from = dayStart(day, this.timezone);
    const dayEnd = dayStart(addDays(day, 1), this.timezone);
    const to = Math.min(dayEnd, windowTo, now);
    const f: DayFigures = { heavyHours: 0, loadSeen: 0, present: 0, expected: 0, reporting: 0 };
    const offset = offsetMs(this.timezone);
    const txMeters = site.rooms.flatMap((r) => r.transformers.map((t) => t.meter)).filter((m): m is string => m !== undefined);
    const meters = [...new Set(site.rooms.flatMap((r) => r.transformers.flatMap((t) => [t.meter, ...t.lines.map((l) => l.meter)])).filter((m): m is string => m !== undefined))];
    for (let i = 0; i < txMeters.length && to > from; i += METERS_PER_READ) {
      const series = await this.store.history({ devices: txMeters.slice(i, i + METERS_PER_READ), quantities: ['load_rate'], from, to, stepMs: HOUR_MS, utcOffsetMs: offset, aggregate: 'mean' });
      for (const s of series) {
        const vals = s.values.filter((v): v is number => v !== null && Number.isFinite(v));
        if (vals.length > 0) f.loadSeen++;
        f.heavyHours += vals.filter((v) => v >= HEAVY_LOAD_PCT).length;
      }
    }
    const intervals = Math.max(0, Math.ceil((to - from) / QUARTER_MS));
    for (let i = 0; i < meters.length && to > from; i += METERS_PER_READ) {
      const batch = meters.slice(i, i + METERS_PER_READ);
      const series = await this.store.history({ devices: batch, quantities: [...PRESENCE], from, to, stepMs: QUARTER_MS, utcOffsetMs: offset, aggregate: 'last' });
      const seen = new Map<string, Set<number>>();
      for (const s of series)
        s.ts.forEach((t, k) => {
          if (s.values[k] !== null && s.values[k] !== undefined) seen.set(s.device, (seen.get(s.device) ?? new Set()).add(t));
        });
      for (const m of batch) {
        const n = seen.get(m)?.size ?? 0;
        f.present += Math.min(n, intervals);
        f.expected += intervals;
        if (n > 0) f.reporting++;
      }
    }
    if (dayEnd <= now && dayEnd <= windowTo) this.cache.set(key, f);
    return f;
  }
}
