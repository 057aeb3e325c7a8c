/**
 * Indicators read from the stored readings, per station and local day
 * (docs/risk.md, Indicators from the store):
 *
 * - `voltage-qualification`: minutes inside the limits ÷ minutes monitored of
 *   the station's monitoring points (1-min means, docs/quality.md), %. No
 *   minutes monitored → no data.
 * - `heavy-load-hours`: hours in which a transformer's mean load rate
 *   (`load_rate`, from its transformer meter) was at or above
 *   HEAVY_LOAD_PCT (overload hours, ≥ 100 %, among them), summed over the
 *   station's transformers. No data when no transformer of the station had a
 *   load rate in the window.
 * - `meter-comm-availability`: the share of 15-minute intervals in which each
 *   of the station's meters (transformer and line meters) sent a reading,
 *   over all its meters, %. No data when none of them sent anything in the
 *   window (a station whose meters have never reported says nothing about
 *   communication; the comm-loss alarms speak for a meter that went silent).
 *
 * A day is read for every station at once, METERS_PER_READ meters per store
 * query; a day that has ended is kept, so a daily run reads one new day.
 */
import type { Site } from '../../contract/index.ts';
import { monitoringPoints } from '../quality/read.ts';
import { VOLTAGE_QUANTITIES, classOf, limitsOf, tallyMinutes, type MinuteMeans, type VoltageQuantity } from '../quality/voltage.ts';
import type { HistorySeries, TelemetryStore } from '../store/types.ts';
import { addDays, dayOf, dayStart, daysBetween, offsetMs } from './days.ts';

export const HEAVY_LOAD_PCT = 80;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const QUARTER_MS = 900_000;
const METERS_PER_READ = 50;
/** quantities every meter reports one of: a reading with any of them is a reading */
const PRESENCE = ['ua', 'p', 'ia'] as const;

interface DayFigures {
  /** voltage minutes monitored and inside the limits */
  monitored: number;
  inside: number;
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
  'voltage-qualification': number | null;
  'heavy-load-hours': number | null;
  'meter-comm-availability': number | null;
}

const empty = (): DayFigures => ({ monitored: 0, inside: 0, heavyHours: 0, loadSeen: 0, present: 0, expected: 0, reporting: 0 });

export class StoreIndicatorReader {
  /** day → station → figures, for days that have ended */
  private readonly cache = new Map<string, Map<string, DayFigures>>();

  constructor(private readonly store: TelemetryStore, private readonly timezone: string) {}

  async read(sites: readonly Site[], window: { from: number; to: number }, now: number): Promise<Map<string, StoreIndicators>> {
    const days = daysBetween(dayOf(window.from, this.timezone), dayOf(window.to - 1, this.timezone));
    const sum = new Map(sites.map((s) => [s.id, empty()]));
    const keep = new Set(days);
    for (const day of days) {
      const figures = await this.day(sites, day, window.to, now);
      for (const [station, f] of figures) {
        const acc = sum.get(station);
        if (acc) for (const k of Object.keys(acc) as (keyof DayFigures)[]) acc[k] += f[k];
      }
    }
    // days that left the window are not asked for again
    for (const d of this.cache.keys()) if (!keep.has(d) && d < days[0]!) this.cache.delete(d);
    const pct = (a: number, b: number) => Math.round((a / b) * 100 * 100) / 100;
    return new Map(
      [...sum].map(([s, f]) => [
        s,
        {
          'voltage-qualification': f.monitored > 0 ? pct(f.inside, f.monitored) : null,
          'heavy-load-hours': f.loadSeen > 0 ? f.heavyHours : null,
          'meter-comm-availability': f.reporting > 0 && f.expected > 0 ? pct(f.present, f.expected) : null,
        },
      ]),
    );
  }

  private async day(sites: readonly Site[], day: string, windowTo: number, now: number): Promise<Map<string, DayFigures>> {
    const hit = this.cache.get(day);
    if (hit && sites.every((s) => hit.has(s.id))) return hit;
    const from = dayStart(day, this.timezone);
    const dayEnd = dayStart(addDays(day, 1), this.timezone);
    const to = Math.min(dayEnd, windowTo, now);
    const out = new Map(sites.map((s) => [s.id, empty()]));
    if (to > from) {
      const utcOffsetMs = offsetMs(this.timezone);
      const read = async (devices: string[], quantities: string[], stepMs: number, aggregate: 'mean' | 'last') => {
        const series: HistorySeries[] = [];
        for (let i = 0; i < devices.length; i += METERS_PER_READ)
          series.push(...(await this.store.history({ devices: devices.slice(i, i + METERS_PER_READ), quantities: quantities as never, from, to, stepMs, utcOffsetMs, aggregate })));
        return series;
      };
      // voltage: the monitoring points' 1-min means
      const points = sites.flatMap((s) => monitoringPoints(s).map((p) => ({ ...p, station: s.id })));
      const means = new Map<string, MinuteMeans>();
      for (const s of await read(points.map((p) => p.device), [...VOLTAGE_QUANTITIES], MINUTE_MS, 'mean')) {
        const m = means.get(s.device) ?? {};
        means.set(s.device, m);
        const byMinute = new Map<number, number>();
        s.ts.forEach((t, k) => {
          const v = s.values[k];
          if (v !== null && v !== undefined && Number.isFinite(v)) byMinute.set(t, v);
        });
        m[s.quantity as VoltageQuantity] = byMinute;
      }
      for (const p of points) {
        const m = means.get(p.device);
        if (!m) continue;
        const t = tallyMinutes(m, limitsOf(classOf(m), p.nominalV));
        const f = out.get(p.station)!;
        f.monitored += t.monitoredMin;
        f.inside += t.insideMin;
      }
      // load: hourly mean load rate of the transformer meters
      const stationOf = new Map<string, string>();
      const txMeters: string[] = [];
      const meters: string[] = [];
      for (const s of sites)
        for (const r of s.rooms)
          for (const t of r.transformers) {
            if (t.meter) txMeters.push(t.meter);
            for (const m of [t.meter, ...t.lines.map((l) => l.meter)])
              if (m !== undefined && !stationOf.has(m)) {
                stationOf.set(m, s.id);
                meters.push(m);
              }
          }
      for (const s of await read(txMeters, ['load_rate'], HOUR_MS, 'mean')) {
        const f = out.get(stationOf.get(s.device) ?? '');
        if (!f) continue;
        const vals = s.values.filter((v): v is number => v !== null && Number.isFinite(v));
        if (vals.length > 0) f.loadSeen++;
        f.heavyHours += vals.filter((v) => v >= HEAVY_LOAD_PCT).length;
      }
      // communication: 15-min intervals with a reading of each meter
      const intervals = Math.ceil((to - from) / QUARTER_MS);
      const seen = new Map<string, Set<number>>();
      for (const s of await read(meters, [...PRESENCE], QUARTER_MS, 'last'))
        s.ts.forEach((t, k) => {
          if (s.values[k] !== null && s.values[k] !== undefined) seen.set(s.device, (seen.get(s.device) ?? new Set()).add(t));
        });
      for (const m of meters) {
        const f = out.get(stationOf.get(m)!)!;
        const n = seen.get(m)?.size ?? 0;
        f.present += Math.min(n, intervals);
        f.expected += intervals;
        if (n > 0) f.reporting++;
      }
    }
    if (dayEnd <= now && dayEnd <= windowTo) this.cache.set(day, out);
    return out;
  }
}
