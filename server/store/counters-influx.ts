/**
 * The energy counters of an interval from InfluxDB (TelemetryStore.counterWindow)
 * in three InfluxQL statements over every device — the raw readings near
 * each end, and the buckets between them with their lowest, highest and
 * last value in one statement — instead of three to five per 500 devices
 * named in an OR clause. Few devices (at most 200) are still named.
 */
import type { Quantity } from '../../contract/index.ts';
import { MEASUREMENT, decodeTagValue, encodeTagValue } from './influx-line.ts';
import { ident, influxString, type InfluxSeries } from './influx-transport.ts';
import type { InfluxQL } from './influx-query.ts';
import type { CounterWindow, CounterWindowQuery, HistorySeries } from './types.ts';

const NAMED_DEVICES_MAX = 200;

export async function counterWindowInflux(influxql: InfluxQL, q: CounterWindowQuery): Promise<CounterWindow> {
  const out: CounterWindow = { raw: [], low: [], high: [], last: [] };
  if (q.quantities.length === 0 || (q.devices !== undefined && q.devices.length === 0)) return out;
  const qs = q.quantities;
  const named = q.devices !== undefined && q.devices.length <= NAMED_DEVICES_MAX;
  const wanted = q.devices !== undefined && !named ? new Set(q.devices) : null;
  const dev = named ? ` AND (${q.devices!.map((d) => `"device" = ${influxString(encodeTagValue(d))}`).join(' OR ')})` : '';
  const time = (a: number, b: number) => `time >= ${Math.floor(a)}ms AND time < ${Math.floor(b)}ms`;
  const m0 = Math.floor(q.m0);
  const m1 = Math.max(m0, Math.floor(q.m1));
  const raw = (a: number, b: number) => (b > a ? influxql(`SELECT ${qs.map(ident).join(', ')} FROM ${MEASUREMENT} WHERE ${time(a, b)}${dev} GROUP BY "device"`) : Promise.resolve([]));
  const step = Math.max(1, Math.floor(q.stepMs));
  const off = ((-Math.floor(q.utcOffsetMs) % step) + step) % step;
  const aggs = qs.map((x, i) => `min(${ident(x)}) AS lo${i}, max(${ident(x)}) AS hi${i}, last(${ident(x)}) AS la${i}`).join(', ');
  const [head, buckets, tail] = await Promise.all([
    raw(q.from, m0),
    m1 > m0 ? influxql(`SELECT ${aggs} FROM ${MEASUREMENT} WHERE ${time(m0, m1)}${dev} GROUP BY time(${step}ms, ${off}ms), "device" fill(none)`) : Promise.resolve([]),
    raw(m1, q.to),
  ]);
  const deviceOf = (s: InfluxSeries) => decodeTagValue(s.tags?.device ?? '');
  const rawSeries = new Map<string, HistorySeries>();
  for (const s of [...head, ...tail]) {
    const device = deviceOf(s);
    if (wanted && !wanted.has(device)) continue;
    qs.forEach((quantity: Quantity) => {
      const ci = s.columns.indexOf(quantity);
      const key = `${device}\u0000${quantity}`;
      for (const row of s.values) {
        const v = row[ci];
        if (typeof v !== 'number') continue;
        let x = rawSeries.get(key);
        if (!x) rawSeries.set(key, (x = { device, quantity, ts: [], values: [] }));
        x.ts.push(Number(row[0]));
        x.values.push(v);
      }
    });
  }
  out.raw = [...rawSeries.values()];
  for (const s of buckets) {
    const device = deviceOf(s);
    if (wanted && !wanted.has(device)) continue;
    qs.forEach((quantity: Quantity, i) => {
      const [lo, hi, la] = ['lo', 'hi', 'la'].map((p) => s.columns.indexOf(`${p}${i}`));
      const low: HistorySeries = { device, quantity, ts: [], values: [] };
      const high: HistorySeries = { device, quantity, ts: [], values: [] };
      const last: HistorySeries = { device, quantity, ts: [], values: [] };
      for (const row of s.values) {
        const [l, h, z] = [row[lo!], row[hi!], row[la!]];
        if (typeof l !== 'number' || typeof h !== 'number' || typeof z !== 'number') continue;
        const t = Number(row[0]);
        low.ts.push(t), low.values.push(l);
        high.ts.push(t), high.values.push(h);
        last.ts.push(t), last.values.push(z);
      }
      if (low.ts.length) out.low.push(low), out.high.push(high), out.last.push(last);
    });
  }
  return out;
}
