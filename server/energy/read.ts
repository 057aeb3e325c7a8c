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
      assemble(out, await store.counterWindow({ devices, quantities: QUANTITIES, from: start - toleranceMs, m0: all, m1: all, to: all, stepMs: w, utcOffsetMs }), w);
    } else {
      const per = devicesPerQuery(store);
      for (let i = 0; i < devices.length; i += per)
        add(out, await store.history({ devices: devices.slice(i, i + per), quantities: QUANTITIES, from: start - toleranceMs, to: end + toleranceMs + 1 }), (t) => t);
    }
    return out;
  }
  if (store.counterWindow) {
    // one pass over every device of the window (server/store/counters-*.ts)
    assemble(out, await store.counterWindow({ devices, quantities: QUANTITIES, from: start - toleranceMs, m0, m1, to: end + toleranceMs + 1, stepMs: w, utcOffsetMs }), w);
    return out;
  }
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
    assemble(out, windowOf(head, low, high, last, tail), w);
  }
  return out;
}

/** The per-device answers of `history` as one counter window (rows by device, then time). */
function windowOf(head: HistorySeries[], low: HistorySeries[], high: HistorySeries[], last: HistorySeries[], tail: HistorySeries[]): CounterWindow {
  type Row = { ts: number; bucket: boolean; v: (number | null)[][] };
  const rows = new Map<string, Map<string, Row>>();
  const put = (list: HistorySeries[], bucket: boolean, k: 0 | 1 | 2 | -1) => {
    for (const s of list) {
      const qi = QUANTITIES.indexOf(s.quantity);
      if (qi < 0) continue;
      let d = rows.get(s.device);
      if (!d) rows.set(s.device, (d = new Map()));
      s.ts.forEach((t, i) => {
        const key = `${bucket ? 'b' : 'r'}${t}`;
        let r = d!.get(key);
        if (!r) d!.set(key, (r = { ts: t, bucket, v: QUANTITIES.map(() => [null, null, null]) }));
        const v = s.values[i] ?? null;
        if (k < 0) r.v[qi] = [v, v, v];
        else r.v[qi]![k] = v;
      });
    }
  };
  put(head, false, -1);
  put(low, true, 0);
  put(high, true, 1);
  put(last, true, 2);
  put(tail, false, -1);
  const out: CounterWindow = { device: [], ts: [], bucket: [], low: QUANTITIES.map(() => []), high: QUANTITIES.map(() => []), last: QUANTITIES.map(() => []) };
  for (const [device, d] of rows)
    for (const r of [...d.values()].sort((a, b) => a.ts - b.ts)) {
      out.device.push(device);
      out.ts.push(r.ts);
      out.bucket.push(r.bucket);
      r.v.forEach(([lo, hi, la], qi) => {
        out.low[qi]!.push(lo!);
        out.high[qi]!.push(hi!);
        out.last[qi]!.push(la!);
      });
    }
  return out;
}

/**
 * Adds a counter window to `out` in one walk over its rows (ordered by device, then time): a raw reading as it is,
 * a bucket as the points its lowest, highest and last value stand for (docs/energy.md, Reading the store).
 */
function assemble(out: Map<string, { ep_imp?: Acc; ep_exp?: Acc }>, win: CounterWindow, w: number): void {
  let device = '';
  let m: { ep_imp?: Acc; ep_exp?: Acc } = {};
  for (let r = 0; r < win.device.length; r++) {
    if (win.device[r] !== device || r === 0) {
      device = win.device[r]!;
      m = out.get(device) ?? {};
      out.set(device, m);
    }
    const t = win.ts[r]!;
    QUANTITIES.forEach((quantity, qi) => {
      const low = win.low[qi]![r];
      if (typeof low !== 'number') return;
      const acc = (m[quantity as 'ep_imp' | 'ep_exp'] ??= { ts: [], values: [] });
      if (!win.bucket[r]) {
        acc.ts.push(t);
        acc.values.push(low);
        return;
      }
      const high = win.high[qi]![r];
      const last = win.last[qi]![r];
      if (typeof high !== 'number' || typeof last !== 'number') return;
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
}
