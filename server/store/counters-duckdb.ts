/**
 * The energy counters of an interval from the embedded store in one query
 * (TelemetryStore.counterWindow): the reading table is scanned once over the
 * window's time range for every device, instead of once per list of devices
 * (`device IN (…)` with thousands of names cost about a second per query).
 * Raw readings near the ends, per bucket between them the lowest, highest
 * and last value; the answer is read column-wise, as the port gives it.
 */
import type { Quantity } from '../../contract/index.ts';
import type { SerialConnection } from './duckdb-connection.ts';
import type { CounterWindow, CounterWindowQuery } from './types.ts';

/** at most this many devices are named in the query; more are filtered after the scan */
const NAMED_DEVICES_MAX = 1000;

const col = (q: Quantity) => `v_${q}`;

export async function counterWindowDuckDb(conn: SerialConnection, q: CounterWindowQuery): Promise<CounterWindow> {
  const qs = q.quantities;
  const empty: CounterWindow = { device: [], ts: [], bucket: [], low: qs.map(() => []), high: qs.map(() => []), last: qs.map(() => []) };
  if (qs.length === 0 || (q.devices !== undefined && q.devices.length === 0)) return empty;
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
  // times as DOUBLE: JavaScript numbers straight from the reader (epoch ms are exact far beyond 2^53 ms)
  const sql = `WITH w AS (SELECT device, ts, ${qs.map(col).join(', ')} FROM reading WHERE ts >= ? AND ts < ?${devWhere} AND (${anyValue}))
    SELECT device, CAST(ts AS DOUBLE) AS ts, b, ${qs.map((_, i) => `lo${i}, hi${i}, la${i}`).join(', ')} FROM (
      SELECT device, ts, false AS b, ${rawCols} FROM w WHERE ts < ${m0} OR ts >= ${m1}
      UNION ALL
      SELECT device, ${bucket} AS ts, true AS b, ${aggCols} FROM w WHERE ts >= ${m0} AND ts < ${m1} GROUP BY device, ${bucket}
    ) ORDER BY device, ts, b`;
  const c = await conn.selectColumns(sql, params);
  const out: CounterWindow = {
    device: c.device as string[],
    ts: c.ts as number[],
    bucket: c.b as boolean[],
    low: qs.map((_, i) => c[`lo${i}`] as (number | null)[]),
    high: qs.map((_, i) => c[`hi${i}`] as (number | null)[]),
    last: qs.map((_, i) => c[`la${i}`] as (number | null)[]),
  };
  return wanted ? filterRows(out, (r) => wanted.has(out.device[r]!)) : out;
}

/** The rows of `w` that `keep` keeps. */
export function filterRows(w: CounterWindow, keep: (row: number) => boolean): CounterWindow {
  const rows: number[] = [];
  for (let r = 0; r < w.device.length; r++) if (keep(r)) rows.push(r);
  if (rows.length === w.device.length) return w;
  const pick = <T>(a: T[]) => rows.map((r) => a[r]!);
  return { device: pick(w.device), ts: pick(w.ts), bucket: pick(w.bucket), low: w.low.map(pick), high: w.high.map(pick), last: w.last.map(pick) };
}
