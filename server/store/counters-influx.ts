/**
 * The energy counters of an interval from InfluxDB (TelemetryStore.counterWindow)
 * in three InfluxQL statements over every device — the raw readings near
 * each end, and the buckets between them with their lowest, highest and
 * last value in one statement — instead of five per 500 devices named in an
 * OR clause. Few devices (at most 200) are still named.
 */
import { MEASUREMENT, decodeTagValue, encodeTagValue } from './influx-line.ts';
import { ident, influxString, type InfluxSeries } from './influx-transport.ts';
import type { InfluxQL } from './influx-query.ts';
import type { CounterWindow, CounterWindowQuery } from './types.ts';

const NAMED_DEVICES_MAX = 200;

export async function counterWindowInflux(influxql: InfluxQL, q: CounterWindowQuery): Promise<CounterWindow> {
  const qs = q.quantities;
  const out: CounterWindow = { device: [], ts: [], bucket: [], low: qs.map(() => []), high: qs.map(() => []), last: qs.map(() => []) };
  if (qs.length === 0 || (q.devices !== undefined && q.devices.length === 0)) return out;
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
  // each device's series of the three answers, in time order: head, buckets, tail
  const byDevice = new Map<string, Array<{ s: InfluxSeries; bucket: boolean }>>();
  for (const [list, bucket] of [[head, false], [buckets, true], [tail, false]] as const)
    for (const s of list) {
      const device = decodeTagValue(s.tags?.device ?? '');
      if (wanted && !wanted.has(device)) continue;
      let l = byDevice.get(device);
      if (!l) byDevice.set(device, (l = []));
      l.push({ s, bucket });
    }
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  for (const device of [...byDevice.keys()].sort()) {
    for (const { s, bucket } of byDevice.get(device)!) {
      const ci = qs.map((x, i) => (bucket ? ['lo', 'hi', 'la'].map((p) => s.columns.indexOf(`${p}${i}`)) : Array(3).fill(s.columns.indexOf(x))) as number[]);
      for (const row of s.values) {
        if (!ci.some(([lo]) => typeof row[lo!] === 'number')) continue;
        out.device.push(device);
        out.ts.push(Number(row[0]));
        out.bucket.push(bucket);
        ci.forEach(([lo, hi, la], i) => {
          out.low[i]!.push(num(row[lo!]));
          out.high[i]!.push(num(row[hi!]));
          out.last[i]!.push(num(row[la!]));
        });
      }
    }
  }
  return out;
}
