/**
 * A month replayed through a real server (InfluxDB store): five supply
 * stations, 30 days of data written through the real intake paths and
 * journals — repair calls through POST /api/tickets, fault outages through the
 * outage pool's journal, alarms and their acknowledgements through the alarm
 * journal (transitions made by the real state machine) — then each day
 * computed in order by POST /api/risk/compute with the shipped model's
 * weights over a 7-day window. Injected problems give their codes and
 * driving indicators: many repair calls at `a`, slow acknowledgement at
 * `b`, frequent outages at `c`; `d` hovers around the yellow threshold and is
 * held yellow by the hysteresis; `e` stays green. The history survives a
 * restart of the server.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Alarm, JournalEntry } from '../../contract/index.ts';
import type { StationRiskDay } from '../../contract/risk.ts';
import { InfluxAlarmJournal } from '../../server/alarms/index.ts';
import { InfluxPoolJournal, type PoolEntry } from '../../server/outages/journal.ts';
import type { OutageRecord } from '../../server/outages/types.ts';
import { addDays, dayOf, dayStart } from '../../server/risk/days.ts';
import { applyOp, type AlarmOp } from '../../server/rules/alarm.ts';
import { InfluxStore } from '../../server/store/influx.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const TZ = '+08:00';
const MIN = 60_000;
const HOUR = 60 * MIN;
const STATIONS = ['a', 'b', 'c', 'd', 'e'];
const TOPOLOGY = `
sites:
${STATIONS.map((s) => `  - id: ${s}
    name: 供电所${s.toUpperCase()}
    rooms:
      - id: r1
        name: 配电室
        transformers:
          - { id: T${s}, name: 1号变, ratedKva: 400, meter: m${s} }`).join('\n')}
customers:
${STATIONS.flatMap((s) => [1, 2, 3].map((i) => `  - { id: C${s}${i}, name: 户${s}${i}, site: ${s}, transformer: T${s} }`)).join('\n')}
`;
/** the month: the 30 days before today, D[0] oldest */
const D = Array.from({ length: 30 }, (_, i) => addDays(dayOf(Date.now(), TZ), i - 30));
const noon = (i: number) => dayStart(D[i]!, TZ) + 12 * HOUR;
/** minutes to acknowledge d's daily alarm: calm, three slow days, then alternating around the threshold */
const D_ACK = D.map((_, i) => (i < 14 ? 10 : i < 17 ? 60 : i % 2 === 0 ? 32 : 18));

const cfg = { url: inject('influxUrl'), apiVersion: 1 as const, database: `risk_month_${process.pid}_${Date.now()}`, createDatabase: true, timeoutMs: 10_000 };
let ts: TestServer;
let dir = '';
let modelFile = '';
let days: Record<string, StationRiskDay[]>;

/** The month's alarms and outages, written to the journals the server rebuilds from at start. */
async function seedJournals(): Promise<void> {
  const store = new InfluxStore(cfg);
  await store.start();
  const alarms = new Map<string, Alarm | undefined>();
  const entries: JournalEntry[] = [];
  let seq = 0;
  const op = (at: number, o: AlarmOp) => {
    const r = applyOp(alarms.get(o.alarmId), o, at);
    if (!r.ok) throw new Error(`${o.op} ${o.alarmId} refused`);
    alarms.set(o.alarmId, r.alarm);
    for (const t of r.transitions) entries.push({ ...t, kind: 'transition', seq: ++seq });
  };
  D.forEach((_, i) => {
    for (const [station, ackMin] of [['b', 45], ['d', D_ACK[i]!]] as const) {
      const id = `u-deviation:m${station}`;
      op(noon(i), { op: 'raise', alarmId: id, severity: 2, level: 'hi' });
      op(noon(i) + ackMin * MIN, { op: 'acknowledge', alarmId: id, by: 'op1' });
      op(noon(i) + ackMin * MIN + 1000, { op: 'clear', alarmId: id });
    }
  });
  const alarmJournal = new InfluxAlarmJournal(store);
  await alarmJournal.start();
  await alarmJournal.append(entries);
  // two fault outages a day at c, an hour each, all three customers dark
  const pool: PoolEntry[] = [];
  D.forEach((_, i) => {
    for (const k of [0, 1]) {
      const n = pool.length + 1;
      const start = noon(i) + k * 3 * HOUR;
      const r: OutageRecord = {
        id: `O${n}`, scope: { kind: 'transformer', site: 'c', transformer: 'Tc' }, transformers: ['c/Tc'], meters: ['mc'], cause: 'fault', start, end: start + HOUR,
        state: 'restored', customers: ['Cc1', 'Cc2', 'Cc3'], important: 0, findings: [], tickets: [], alarmIds: [],
      };
      pool.push({ seq: n, at: start + HOUR, kind: 'outage', id: r.id, what: 'restored', by: 'system', data: r });
    }
  });
  const poolJournal = new InfluxPoolJournal(store);
  await poolJournal.start();
  await poolJournal.append(pool);
  await store.stop();
}

const start = () => startTestServer({ influxUrl: cfg.url, database: cfg.database, dataDir: dir, topologyYaml: TOPOLOGY, extra: { risk: { file: modelFile } } });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-month-'));
  // the shipped weights and thresholds over a week, so a day's events move the score within the month
  const shipped = await readFile(fileURLToPath(new URL('../../config/risk.yaml', import.meta.url)), 'utf8');
  modelFile = path.join(dir, 'risk.yaml');
  await writeFile(modelFile, shipped.replace(/^windowDays: \d+/m, 'windowDays: 7'));
  await seedJournals();
  ts = await start();
  // a repair call a day at a, through the intake API
  for (let i = 0; i < D.length; i++) {
    const res = await ts.fetch('/api/tickets', { method: 'POST', role: 'operator', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customer: `Ca${(i % 3) + 1}`, time: noon(i) + HOUR, text: '家里没电' }) });
    if (res.status !== 201) throw new Error(`ticket: ${res.status} ${await res.text()}`);
  }
  await ts.server.risk!.catchUp;
  for (const day of D) {
    const res = await ts.fetch('/api/risk/compute', { method: 'POST', role: 'operator', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ day }) });
    if (res.status !== 200) throw new Error(`compute ${day}: ${res.status} ${await res.text()}`);
  }
  days = {};
  for (const s of STATIONS) days[s] = ((await (await ts.fetch(`/api/risk/stations/${s}?from=${D[0]}&to=${D[29]}`, { role: 'viewer' })).json()) as { days: StationRiskDay[] }).days;
}, 120_000);
afterAll(async () => {
  await ts?.close({ keepData: true });
  await rm(dir, { recursive: true, force: true });
});

const last = (s: string) => days[s]!.at(-1)!;
const value = (d: StationRiskDay, id: string) => d.indicators.find((i) => i.id === id)!.value;

describe('a month of replayed data', () => {
  it('every station has a day for each of the 30 days, run on demand, over a 7-day window', () => {
    for (const s of STATIONS) expect(days[s]!.map((d) => d.day)).toEqual(D);
    expect(last('a').window).toEqual({ from: dayStart(D[23]!, TZ), to: dayStart(addDays(D[29]!, 1), TZ) });
    expect(last('a').run).toBe('on-demand');
  });

  it('many repair calls at a: yellow, driven by repair calls per 1,000 customers', () => {
    expect(last('a')).toMatchObject({ code: 'yellow', driving: 'repair-calls-per-1000' });
    // 7 calls of the week ÷ 3 customers × 1,000
    expect(value(last('a'), 'repair-calls-per-1000')).toBeCloseTo(2333.333, 3);
  });

  it('slow acknowledgement at b: yellow, driven by the mean time to acknowledge', () => {
    expect(last('b')).toMatchObject({ code: 'yellow', driving: 'ack-time-mean' });
    expect(value(last('b'), 'ack-time-mean')).toBe(45);
  });

  it('frequent outages at c: yellow, driven by fault outages; its customers are frequent-outage customers', () => {
    expect(last('c')).toMatchObject({ code: 'yellow', driving: 'fault-outages' });
    expect(value(last('c'), 'fault-outages')).toBe(14);
    expect(value(last('c'), 'frequent-outage-customers')).toBe(3);
    expect(value(last('c'), 'customer-hours')).toBe(42);
  });

  it('d turns yellow on its slow days and the hysteresis holds it there while its score crosses the threshold both ways', () => {
    const d = days.d!;
    expect(d.slice(0, 16).every((x) => x.code === 'green')).toBe(true);
    expect(d.slice(16).map((x) => x.code)).toEqual(Array(14).fill('yellow'));
    const raw = d.slice(23).map((x) => x.rawCode);
    expect(raw).toContain('green');
    expect(raw).toContain('yellow');
    for (const x of d.slice(23)) expect(x.score!).toBeGreaterThanOrEqual(11);
  });

  it('e, without problems, is green with score 0 and nothing driving it', () => {
    expect(days.e!.every((x) => x.code === 'green' && x.score === 0 && x.driving === null)).toBe(true);
  });

  it('the ranking puts the yellow stations first and counts their high-risk days of the month', async () => {
    const rk = (await (await ts.fetch(`/api/risk/ranking?day=${D[29]}`, { role: 'viewer' })).json()) as { rows: { station: string; code: string; highRiskDaysThisMonth: number; flagged: boolean; trend: (number | null)[] }[] };
    expect(rk.rows.at(-1)!.station).toBe('e');
    expect(new Set(rk.rows.slice(0, 4).map((r) => r.station))).toEqual(new Set(['a', 'b', 'c', 'd']));
    const month = D.filter((x) => x.slice(0, 7) === D[29]!.slice(0, 7));
    const b = rk.rows.find((r) => r.station === 'b')!;
    expect(b.highRiskDaysThisMonth).toBe(month.filter((x) => days.b!.find((y) => y.day === x)!.code !== 'green').length);
    expect(b.flagged).toBe(b.highRiskDaysThisMonth > 7);
    expect(b.trend.at(-1)).toBe(last('b').score);
  });

  it('the history survives a restart of the server', async () => {
    await ts.close({ keepData: true });
    ts = await start();
    await ts.server.risk!.catchUp;
    const again = ((await (await ts.fetch(`/api/risk/stations/d?from=${D[0]}&to=${D[29]}`, { role: 'viewer' })).json()) as { days: StationRiskDay[] }).days;
    expect(again).toEqual(days.d);
  }, 60_000);
});
