/**
 * Reading the meters' energy counters for an interval from the store
 * (either implementation, through the TelemetryStore port). Near each end
 * the readings are read as they are (the boundary value is interpolated
 * from their real times); between the ends, per bucket only the lowest, the
 * highest and the last value, which is all the energy sum needs: a counter
 * that only rises has its first reading as its lowest and its last as its
 * highest; one that went back inside the bucket rose to its highest, fell to
 * its lowest and rose to its last (docs/energy.md, Resets). A day thus costs
 * the store 3 values per meter and bucket, not every reading.
 */
import type { Quantity } from '../../contract/index.ts';
import type { CounterWindow, HistorySeries, TelemetryStore } from '../store/types.ts';
import type { MeterCounters } from './compute.ts';
import { INTERVAL_MS, type IntervalKind } from './types.ts';

const QUANTITIES: Quantity[] = ['ep_imp', 'ep_exp'];
/** bucket width between the ends, per interval length */
export const BUCKET_MS: Readonly<Record<IntervalKind, number>> = { '15m': 60_000, '1h': 300_000, '1d': 900_000 };
/**
 * devices per store query: InfluxQL names each in an OR clause of the query
 * string; DuckDB scans the reading table once per query, so fewer, larger
 * queries cost less there
 */
export function devicesPerQuery(store: TelemetryStore): number {
  return store.kind === 'duckdb' ? 5000 : 500;
}

interface Acc {
  ts: number[];
  values: number[];
}

function add(into: Map<string, { ep_imp?: Acc; ep_exp?: Acc }>, series: readonly HistorySeries[], map: (ts: number, i: number) => number): void {
  for (const s of series) {
    if (s.quantity !== 'ep_imp' && s.quantity !== 'ep_exp') continue;
    let m = into.get(s.device);
    if (!m) into.set(s.device, (m = {}));
    const acc = (m[s.quantity] ??= { ts: [], values: [] });
    for (let i = 0; i < s.ts.length; i++) {
      const v = s.values[i];
      if (typeof v !== 'number') continue;
      acc.ts.push(map(s.ts[i]!, i));
      acc.values.push(v);
    }
  }
}

/**
 * The counters of `devices` for the interval [start, start + length): raw
 * readings in [start − tolerance, m0) and [m1, end + tolerance], bucket
 * lowest, highest and last values in [m0, m1), each series time-ascending.
 */
export async function readCounters(
  store: TelemetryStore,
  devices: readonly string[],
  interval: IntervalKind,
  start: number,
  toleranceMs: number,
  utcOffsetMs: number,
): Promise<Map<string, MeterCounters>> {
  const end = start + INTERVAL_MS[interval];
  const w = BUCKET_MS[interval];
  // bucket edges on the zone's grid, strictly more than the tolerance inside each end
  const align = (t: number) => Math.floor((t + utcOffsetMs) / w) * w - utcOffsetMs;
  let m0 = align(start + toleranceMs + 1);
  if (m0 <= start + toleranceMs) m0 += w;
  const m1 = align(end - toleranceMs - 1);
  const out = new Map<string, { ep_imp?: Acc; ep_exp?: Acc }>();
  if (m1 <= m0) {
    // a window too short for buckets: every reading as it is
    if (store.counterWindow) {
      const all = end + toleranceMs + 1;
      add(out, (await store.counterWindow({ devices, quantities: QUANTITIES, from: start - toleranceMs, m0: all, m1: all, to: all, stepMs: w, utcOffsetMs })).raw, (t) => t);
    } else {
      const per = devicesPerQuery(store);
      for (let i = 0; i < devices.length; i += per)
        add(out, await store.history({ devices: devices.slice(i, i + per), quantities: QUANTITIES, from: start - toleranceMs, to: end + toleranceMs + 1 }), (t) => t);
    }
    return out;
  }
  const windows: CounterWindow[] = [];
  if (store.counterWindow) {
    // one pass over every device of the window (server/store/counters-*.ts)
    windows.push(await store.counterWindow({ devices, quantities: QUANTITIES, from: start - toleranceMs, m0, m1, to: end + toleranceMs + 1, stepMs: w, utcOffsetMs }));
  } else {
    const per = devicesPerQuery(store);
    for (let i = 0; i < devices.length; i += per) {
      const chunk = devices.slice(i, i + per);
      const bucket = { devices: chunk, quantities: QUANTITIES, from: m0, to: m1, stepMs: w, utcOffsetMs };
      const [head, low, high, last, tail] = await Promise.all([
        store.history({ devices: chunk, quantities: QUANTITIES, from: start - toleranceMs, to: m0 }),
        store.history({ ...bucket, aggregate: 'min' }),
        store.history({ ...bucket, aggregate: 'max' }),
        store.history({ ...bucket, aggregate: 'last' }),
        store.history({ devices: chunk, quantities: QUANTITIES, from: m1, to: end + toleranceMs + 1 }),
      ]);
      windows.push({ raw: [...head, ...tail], low, high, last });
    }
  }
  for (const win of windows) assemble(out, win, m0, w);
  return out;
}

/** Adds one window's counters to `out`: the raw readings before m0, the buckets, the raw readings from m1 on. */
function assemble(out: Map<string, { ep_imp?: Acc; ep_exp?: Acc }>, win: CounterWindow, m0: number, w: number): void {
  add(out, win.raw.map((s) => cut(s, (t) => t < m0)).filter((s) => s.ts.length > 0), (t) => t);
  const byKey = (list: readonly HistorySeries[]) => new Map(list.map((s) => [`${s.device}\u0000${s.quantity}`, new Map(s.ts.map((t, k) => [t, s.values[k]]))]));
  const highOf = byKey(win.high);
  const lastOf = byKey(win.last);
  for (const s of win.low) {
    const key = `${s.device}\u0000${s.quantity}`;
    const m = out.get(s.device) ?? {};
    out.set(s.device, m);
    const acc = (m[s.quantity as 'ep_imp' | 'ep_exp'] ??= { ts: [], values: [] });
    s.ts.forEach((t, k) => {
      const low = s.values[k];
      const high = highOf.get(key)?.get(t);
      const last = lastOf.get(key)?.get(t);
      if (typeof low !== 'number' || typeof high !== 'number' || typeof last !== 'number') return;
      const prev = acc.values.at(-1);
      if ((prev === undefined || low >= prev) && high === last) {
        // rose only: its lowest is its first reading
        acc.ts.push(t, t + w - 1);
        acc.values.push(low, last);
      } else if (high !== last) {
        // went back inside the bucket from its highest: up to the highest, down to the lowest, up to the last
        acc.ts.push(t, t + 1, t + w - 1);
        acc.values.push(high, low, last);
      } else {
        // went back at or before its lowest and then rose past everything before: the part before is not known
        acc.ts.push(t, t + w - 1);
        acc.values.push(low, last);
      }
    });
  }
  add(out, win.raw.map((s) => cut(s, (t) => t >= m0)).filter((s) => s.ts.length > 0), (t) => t);
}

function cut(s: HistorySeries, keep: (t: number) => boolean): HistorySeries {
  const ts: number[] = [];
  const values: (number | null)[] = [];
  s.ts.forEach((t, i) => {
    if (keep(t)) ts.push(t), values.push(s.values[i]!);
  });
  return { ...s, ts, values };
}
