/**
 * The energy counters of an interval from the embedded store in one query
 * (TelemetryStore.counterWindow): the reading table is scanned once over the
 * window's time range for every device, instead of once per list of devices
 * (`device IN (…)` with thousands of names cost about a second per query).
 * Raw readings near the ends, per bucket between them the lowest, highest
 * and last value; the answer is read column-wise, not as row objects.
 */
import type { Quantity } from '../../contract/index.ts';
import type { SerialConnection } from './duckdb-connection.ts';
import type { CounterWindow, CounterWindowQuery, HistorySeries } from './types.ts';

/** at most this many devices are named in the query; more are filtered after the scan */
const NAMED_DEVICES_MAX = 1000;

const col = (q: Quantity) => `v_${q}`;

export async function counterWindowDuckDb(conn: SerialConnection, q: CounterWindowQuery): Promise<CounterWindow> {
  const out: CounterWindow = { raw: [], low: [], high: [], last: [] };
  if (q.quantities.length === 0 || (q.devices !== undefined && q.devices.length === 0)) return out;
  const qs = q.quantities;
  const named = q.devices !== undefined && q.devices.length <= NAMED_DEVICES_MAX;
  const wanted = q.devices !== undefined && !named ? new Set(q.devices) : null;
  const params: (string | bigint)[] = [BigInt(Math.floor(q.from)), BigInt(Math.floor(q.to))];
  let devWhere = '';
  if (named) {
    devWhere = ` AND device IN (${q.devices!.map(() => '?').join(', ')})`;
    params.push(...q.devices!);
  }
  const m0 = BigInt(Math.floor(q.m0));
  const m1 = BigInt(Math.max(Math.floor(q.m0), Math.floor(q.m1)));
  const step = BigInt(Math.max(1, Math.floor(q.stepMs)));
  // bucket start = k·step − utcOffset, the offset normalised into [0, step) (as DuckDbStore.history)
  const off = ((BigInt(-Math.floor(q.utcOffsetMs)) % step) + step) % step;
  const bucket = `((ts - ${off}) // ${step}) * ${step} + ${off}`;
  const anyValue = qs.map((x) => `${col(x)} IS NOT NULL`).join(' OR ');
  const rawCols = qs.map((x, i) => `${col(x)} AS lo${i}, ${col(x)} AS hi${i}, ${col(x)} AS la${i}`).join(', ');
  const aggCols = qs.map((x, i) => `min(${col(x)}) AS lo${i}, max(${col(x)}) AS hi${i}, arg_max(${col(x)}, ts) FILTER (WHERE ${col(x)} IS NOT NULL) AS la${i}`).join(', ');
  const sql = `WITH w AS (SELECT device, ts, ${qs.map(col).join(', ')} FROM reading WHERE ts >= ? AND ts < ?${devWhere} AND (${anyValue}))
    SELECT device, ts, false AS b, ${rawCols} FROM w WHERE ts < ${m0} OR ts >= ${m1}
    UNION ALL
    SELECT device, ${bucket} AS ts, true AS b, ${aggCols} FROM w WHERE ts >= ${m0} AND ts < ${m1} GROUP BY device, ${bucket}
    ORDER BY device, ts`;
  const cols = await conn.selectColumns(sql, params);
  const device = cols.device as string[];
  const ts = cols.ts as (bigint | number)[];
  const isBucket = cols.b as boolean[];
  const series = { raw: new Map<string, HistorySeries>(), low: new Map<string, HistorySeries>(), high: new Map<string, HistorySeries>(), last: new Map<string, HistorySeries>() };
  const push = (into: Map<string, HistorySeries>, d: string, quantity: Quantity, t: number, v: number) => {
    const key = `${d}\u0000${quantity}`;
    let s = into.get(key);
    if (!s) into.set(key, (s = { device: d, quantity, ts: [], values: [] }));
    s.ts.push(t);
    s.values.push(v);
  };
  for (let r = 0; r < device.length; r++) {
    const d = device[r]!;
    if (wanted && !wanted.has(d)) continue;
    const t = Number(ts[r]);
    qs.forEach((quantity, i) => {
      const lo = cols[`lo${i}`]![r];
      if (typeof lo !== 'number') return;
      if (!isBucket[r]) return push(series.raw, d, quantity, t, lo);
      const hi = cols[`hi${i}`]![r];
      const la = cols[`la${i}`]![r];
      if (typeof hi !== 'number' || typeof la !== 'number') return;
      push(series.low, d, quantity, t, lo);
      push(series.high, d, quantity, t, hi);
      push(series.last, d, quantity, t, la);
    });
  }
  out.raw = [...series.raw.values()];
  out.low = [...series.low.values()];
  out.high = [...series.high.values()];
  out.last = [...series.last.values()];
  return out;
}
