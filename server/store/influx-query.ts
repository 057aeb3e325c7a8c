/**
 * The reading store's InfluxQL: the newest reading per device and history
 * (raw or aggregated in time buckets), answers turned back into readings
 * with their tag values decoded (influx-line.ts).
 */
import { QUANTITIES, isQuantity, type Quality, type Quantity, type Values } from '../../contract/index.ts';
import { MEASUREMENT, TAGS, decodeTagValue, encodeTagValue } from './influx-line.ts';
import { ident, influxString, type InfluxSeries } from './influx-transport.ts';
import type { HistoryQuery, HistorySeries, StoredReading } from './types.ts';

/** Runs one InfluxQL statement (InfluxTransport.influxql). */
export type InfluxQL = (q: string) => Promise<InfluxSeries[]>;

/** InfluxQL's GROUP BY time(step, offset) wants the offset inside [0, step). */
function bucketOffset(q: HistoryQuery): number {
  const step = Math.floor(q.stepMs ?? 1);
  return (((-Math.floor(q.utcOffsetMs ?? 0) % step) + step) % step);
}

function rowToReading(series: InfluxSeries, row: unknown[]): StoredReading {
  const tags = series.tags ?? {};
  const out: StoredReading = { site: '', room: '', transformer: '', line: '', device: '', ts: 0, q: 'good', late: false, v: {} };
  const v: Values = {};
  series.columns.forEach((col, i) => {
    const val = row[i];
    if (col === 'time') out.ts = Number(val);
    else if (col === 'quality') out.q = val as Quality;
    else if (col === 'late') out.late = val === true;
    else if ((TAGS as readonly string[]).includes(col)) {
      if (typeof val === 'string') (out as unknown as Record<string, string>)[col] = decodeTagValue(val);
    } else if (isQuantity(col) && typeof val === 'number') v[col] = val;
  });
  for (const t of TAGS) if (tags[t] !== undefined) out[t] = decodeTagValue(tags[t]!);
  out.v = v;
  return out;
}

/** The newest reading of each device (of `devices`, all when absent), at or before `notAfter` when given. */
export async function latest(influxql: InfluxQL, devices?: readonly string[], notAfter?: number): Promise<StoredReading[]> {
  const conds: string[] = [];
  if (devices && devices.length) conds.push(`(${devices.map((d) => `"device" = ${influxString(encodeTagValue(d))}`).join(' OR ')})`);
  if (notAfter !== undefined) conds.push(`time <= ${Math.floor(notAfter)}ms`);
  const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
  // One newest row per device; grouping by every tag keeps the tag values.
  const series = await influxql(`SELECT * FROM ${MEASUREMENT} ${where} GROUP BY "device" ORDER BY time DESC LIMIT 1`);
  return series.flatMap((s) => s.values.map((row) => rowToReading(s, row)));
}

/** Readings of devices × quantities in [from, to): raw, or aggregated per `stepMs` bucket (aligned to the UTC offset). */
export async function history(influxql: InfluxQL, q: HistoryQuery): Promise<HistorySeries[]> {
  if (q.devices.length === 0 || q.quantities.length === 0) return [];
  const quantities = q.quantities.filter((x) => x in QUANTITIES);
  const devWhere = q.devices.map((d) => `"device" = ${influxString(encodeTagValue(d))}`).join(' OR ');
  const time = `time >= ${Math.floor(q.from)}ms AND time < ${Math.floor(q.to)}ms`;
  const agg = q.aggregate ?? 'mean';
  const fn = agg === 'last' ? 'last' : agg;
  const sql = q.stepMs
    ? `SELECT ${quantities.map((x) => `${fn}(${ident(x)}) AS ${ident(x)}`).join(', ')} FROM ${MEASUREMENT} WHERE (${devWhere}) AND ${time} GROUP BY time(${Math.floor(q.stepMs)}ms, ${bucketOffset(q)}ms), "device" fill(none)`
    : `SELECT ${quantities.map(ident).join(', ')} FROM ${MEASUREMENT} WHERE (${devWhere}) AND ${time} GROUP BY "device"`;
  const series = await influxql(sql);
  const out: HistorySeries[] = [];
  for (const s of series) {
    const device = decodeTagValue(s.tags?.device ?? '');
    quantities.forEach((quantity: Quantity) => {
      const ci = s.columns.indexOf(quantity);
      const ts: number[] = [];
      const values: (number | null)[] = [];
      for (const row of s.values) {
        const val = row[ci];
        if (val === null || val === undefined) continue;
        ts.push(Number(row[0]));
        values.push(val as number);
      }
      if (ts.length > 0) out.push({ device, quantity, ts, values });
    });
  }
  return out;
}
