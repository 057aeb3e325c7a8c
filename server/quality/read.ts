/**
 * Voltage qualification and available capacity read from the telemetry store
 * through its port (`history`: 1-min and 15-min means), so both stores give
 * the same figures. The meters come from the topology: every transformer and
 * line meter of a site is a voltage monitoring point; every transformer with
 * a meter has an available capacity.
 */
import type { Site } from '../../contract/index.ts';
import type { HistorySeries, TelemetryStore } from '../store/types.ts';
import { capacityOf, type CapacityFigures } from './capacity.ts';
import {
  VOLTAGE_QUANTITIES,
  addTally,
  classOf,
  emptyTally,
  figuresOf,
  limitsOf,
  tallyMinutes,
  type MinuteMeans,
  type Period,
  type VoltageClass,
  type VoltageFigures,
  type VoltageLimits,
  type VoltageTally,
} from './voltage.ts';

const MINUTE_MS = 60_000;
const QUARTER_MS = 15 * MINUTE_MS;
/** meters per store query: a day of 1-min means of 6 voltages is 8,640 values a meter */
const METERS_PER_READ = 50;

export interface MonitoringPoint {
  device: string;
  room: string;
  transformer: string;
  /** '' for a transformer meter */
  line: string;
  role: 'transformer' | 'line';
  nominalV: number;
}

export interface PointResult extends MonitoringPoint, VoltageFigures {
  class: VoltageClass | null;
  limits: VoltageLimits | null;
}

export interface VoltageReport {
  site: string;
  period: { kind: Period['kind']; label: string; from: number; to: number };
  points: PointResult[];
  /** the site's points together: minutes summed (time-weighted), and the lowest point rate */
  summary: VoltageFigures & { points: number; pointsMonitored: number; lowestPct: number | null; lowestDevice: string | null };
}

/** The meters of a site that measure voltage: every transformer and line meter. */
export function monitoringPoints(site: Site): MonitoringPoint[] {
  const out: MonitoringPoint[] = [];
  for (const room of site.rooms)
    for (const t of room.transformers) {
      if (t.meter) out.push({ device: t.meter, room: room.id, transformer: t.id, line: '', role: 'transformer', nominalV: t.nominalV });
      for (const l of t.lines) if (l.meter) out.push({ device: l.meter, room: room.id, transformer: t.id, line: l.id, role: 'line', nominalV: t.nominalV });
    }
  return out;
}

function meansByDevice(series: readonly HistorySeries[]): Map<string, MinuteMeans> {
  const out = new Map<string, MinuteMeans>();
  for (const s of series) {
    let m = out.get(s.device);
    if (!m) out.set(s.device, (m = {}));
    const byMinute = new Map<number, number>();
    for (let i = 0; i < s.ts.length; i++) {
      const v = s.values[i];
      if (v !== null && v !== undefined && Number.isFinite(v)) byMinute.set(s.ts[i]!, v);
    }
    m[s.quantity as keyof MinuteMeans] = byMinute;
  }
  return out;
}

/**
 * The qualification rate of every monitoring point of `site` over `period`,
 * read a day at a time (a month is the sum of its days; a point's class is
 * judged on each day's data) and `METERS_PER_READ` meters per query.
 */
export async function voltageReport(store: TelemetryStore, site: Site, period: Period, now = Date.now()): Promise<VoltageReport> {
  const points = monitoringPoints(site);
  const tallies = new Map<string, VoltageTally>(points.map((p) => [p.device, emptyTally()]));
  const classes = new Map<string, VoltageClass>();
  for (const day of period.days) {
    if (day.from >= now) break;
    for (let i = 0; i < points.length; i += METERS_PER_READ) {
      const batch = points.slice(i, i + METERS_PER_READ);
      const series = await store.history({ devices: batch.map((p) => p.device), quantities: [...VOLTAGE_QUANTITIES], from: day.from, to: day.to, stepMs: MINUTE_MS, aggregate: 'mean' });
      const means = meansByDevice(series);
      for (const p of batch) {
        const m = means.get(p.device);
        if (!m) continue;
        const cls = classOf(m);
        // three-phase once seen: a day with only phase A data does not make it single-phase
        const known = classes.get(p.device);
        const c = known === 'three_phase' ? known : cls;
        classes.set(p.device, c);
        tallies.set(p.device, addTally(tallies.get(p.device)!, tallyMinutes(m, limitsOf(c, p.nominalV))));
      }
    }
  }
  const results: PointResult[] = points.map((p) => {
    const c = classes.get(p.device) ?? null;
    return { ...p, class: c, limits: c === null ? null : limitsOf(c, p.nominalV), ...figuresOf(tallies.get(p.device)!) };
  });
  const total = results.reduce<VoltageTally>((a, b) => addTally(a, b), emptyTally());
  let lowest: PointResult | null = null;
  for (const r of results) if (r.ratePct !== null && (lowest === null || r.ratePct < lowest.ratePct!)) lowest = r;
  return {
    site: site.id,
    period: { kind: period.kind, label: period.label, from: period.from, to: period.to },
    points: results,
    summary: {
      ...figuresOf(total),
      points: results.length,
      pointsMonitored: results.filter((r) => r.monitoredMin > 0).length,
      lowestPct: lowest?.ratePct ?? null,
      lowestDevice: lowest?.device ?? null,
    },
  };
}

export interface TransformerCapacity extends CapacityFigures {
  room: string;
  transformer: string;
  name: string;
  meter: string | null;
}

export interface CapacityReport {
  site: string;
  from: number;
  to: number;
  transformers: TransformerCapacity[];
}

/** Available capacity of every transformer of `site` over [to − days, to), from 15-min means of load_rate. */
export async function capacityReport(store: TelemetryStore, site: Site, to: number, days = 30): Promise<CapacityReport> {
  const from = to - days * 86_400_000;
  const txs = site.rooms.flatMap((room) => room.transformers.map((t) => ({ room: room.id, t })));
  const meters = txs.map((x) => x.t.meter).filter((m): m is string => m !== undefined);
  const byMeter = new Map<string, HistorySeries>();
  for (let i = 0; i < meters.length; i += METERS_PER_READ) {
    const series = await store.history({ devices: meters.slice(i, i + METERS_PER_READ), quantities: ['load_rate'], from, to, stepMs: QUARTER_MS, aggregate: 'mean' });
    for (const s of series) byMeter.set(s.device, s);
  }
  return {
    site: site.id,
    from,
    to,
    transformers: txs.map(({ room, t }) => {
      const s = t.meter ? byMeter.get(t.meter) : undefined;
      return { room, transformer: t.id, name: t.name, meter: t.meter ?? null, ...capacityOf(t.ratedKva, s?.ts ?? [], s?.values ?? []) };
    }),
  };
}
