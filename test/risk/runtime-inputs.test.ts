/**
 * The indicators the risk runtime gathers from the running server (DuckDB
 * store): voltage qualification, heavy-load hours and meter communication
 * from stored readings, abnormal-loss areas from stored daily line-loss
 * figures, late or wrong plan notices from the outage pool's journal, one-key
 * calls and their answer time and the alarm acknowledgement time from the
 * alarm journal (a call is not an alarm acknowledgement). A station without
 * those inputs has no data for them. At start the missed daily run of the
 * last complete day is made; a provisional run of today follows every
 * `provisionalEveryMinutes`; the history survives a restart.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alarm, JournalEntry, PlacedReading } from '../../contract/index.ts';
import type { StationRiskDay } from '../../contract/risk.ts';
import { DuckDbAlarmJournal } from '../../server/alarms/index.ts';
import { DuckDbPoolJournal } from '../../server/outages/journal.ts';
import type { Plan } from '../../server/outages/types.ts';
import { addDays, dayOf, dayStart } from '../../server/risk/days.ts';
import { nextComputeTime } from '../../server/risk/score.ts';
import { applyOp, type AlarmOp } from '../../server/rules/alarm.ts';
import { DuckDbStore } from '../../server/store/duckdb.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const TZ = '+08:00';
const MIN = 60_000;
const HOUR = 60 * MIN;
const TOPOLOGY = `
sites:
  - id: s1
    name: 东所
    rooms:
      - id: r1
        name: 配电室
        transformers:
          - { id: T1, name: 1号变, ratedKva: 400, meter: mT1, lines: [{ id: L1, name: L1, meter: mL1 }] }
  - id: s2
    name: 西所
    rooms:
      - id: r1
        name: 配电室
        transformers:
          - { id: T2, name: 2号变, ratedKva: 400, meter: mT2 }
customers:
  - { id: C1, name: 户1, site: s1, transformer: T1, line: L1 }
  - { id: C2, name: 户2, site: s2, transformer: T2 }
`;
const today = dayOf(Date.now(), TZ);
const yesterday = addDays(today, -1);
const y0 = dayStart(yesterday, TZ);

let dir = '';
let modelFile = '';
let ts: TestServer;

function readings(): PlacedReading[] {
  const out: PlacedReading[] = [];
  for (let k = 0; k < 96; k++) {
    const t = y0 + k * 15 * MIN;
    const hour = Math.floor(k / 4);
    // T1: 220 V, loaded at 90 % from 10:00 to 14:00 (4 heavy hours), else 50 %
    out.push({ site: 's1', room: 'r1', transformer: 'T1', line: '', device: 'mT1', ts: t, q: 'good', late: false, v: { ua: 220, load_rate: hour >= 10 && hour < 14 ? 90 : 50 } });
    // L1: reports in the first 12 hours only, at 250 V (above the 220 V limit)
    if (hour < 12) out.push({ site: 's1', room: 'r1', transformer: 'T1', line: 'L1', device: 'mL1', ts: t, q: 'good', late: false, v: { ua: 250 } });
  }
  return out;
}

function alarmEntries(): JournalEntry[] {
  const alarms = new Map<string, Alarm | undefined>();
  const out: JournalEntry[] = [];
  const op = (at: number, o: AlarmOp) => {
    const r = applyOp(alarms.get(o.alarmId), o, at);
    if (!r.ok) throw new Error(`${o.op} ${o.alarmId} refused`);
    alarms.set(o.alarmId, r.alarm);
    for (const t of r.transitions) out.push({ ...t, kind: 'transition', seq: out.length + 1 });
  };
  // two one-key calls at s1, taken after 90 s and 30 s
  op(y0 + 10 * HOUR, { op: 'raise', alarmId: 'call:s1', severity: 1 });
  op(y0 + 10 * HOUR + 90_000, { op: 'acknowledge', alarmId: 'call:s1', by: 'op1' });
  op(y0 + 10 * HOUR + 5 * MIN, { op: 'clear', alarmId: 'call:s1' });
  op(y0 + 14 * HOUR, { op: 'raise', alarmId: 'call:s1', severity: 1 });
  op(y0 + 14 * HOUR + 30_000, { op: 'acknowledge', alarmId: 'call:s1', by: 'op1' });
  op(y0 + 14 * HOUR + 5 * MIN, { op: 'clear', alarmId: 'call:s1' });
  // an alarm at s1 acknowledged after 10 min
  op(y0 + 11 * HOUR, { op: 'raise', alarmId: 'u-deviation:mT1', severity: 2, level: 'hi' });
  op(y0 + 11 * HOUR + 10 * MIN, { op: 'acknowledge', alarmId: 'u-deviation:mT1', by: 'op1' });
  op(y0 + 11 * HOUR + 20 * MIN, { op: 'clear', alarmId: 'u-deviation:mT1' });
  return out;
}

function plan(id: string, over: Partial<Plan>): Plan {
  return {
    id, sites: ['s1'], scope: [{ kind: 'transformer', site: 's1', transformer: 'T1' }], start: y0 + 9 * HOUR, end: y0 + 12 * HOUR, reason: '检修', workOrder: '', crew: '',
    state: 'done', late: false, customers: ['C1'], confirmedCustomers: ['C1'], pendingChange: null, createdBy: 'op', createdAt: y0 - 10 * 86_400_000,
    confirmedBy: 'op', confirmedAt: y0 - 9 * 86_400_000, outages: [], warnings: [], ...over,
  };
}

async function seed(): Promise<void> {
  const store = new DuckDbStore(path.join(dir, 'gridwatch.duckdb'));
  await store.start();
  await store.write(readings());
  // the day before yesterday (the line-loss service computes yesterday again at its start, from the counters)
  await store.writeLineLoss([
    { site: 's1', room: 'r1', transformer: 'T1', interval: '1d', start: y0 - 24 * HOUR, end: y0, complete: true, supplyKwh: 1000, salesKwh: 850, lossKwh: 150, lossPct: 15, meters: 2, missing: [], events: [], computedAt: y0 + HOUR },
  ]);
  const alarms = new DuckDbAlarmJournal(() => store.connect());
  await alarms.start();
  await alarms.append(alarmEntries());
  await alarms.stop();
  const pool = new DuckDbPoolJournal(() => store.connect());
  await pool.start();
  const plans = [
    plan('P1', { late: true }), // notice sent late
    plan('P2', { state: 'not_executed' }), // announced, did not happen
    plan('P3', {}), // on time and as announced: not counted
    plan('P4', { late: true, confirmedAt: undefined, confirmedBy: undefined, state: 'draft' }), // never sent
  ];
  await pool.append(plans.map((p, i) => ({ seq: i + 1, at: y0, kind: 'plan' as const, id: p.id, what: 'seeded', by: 'op', data: p })));
  await pool.stop();
  await store.stop();
}

const start = () => startTestServer({ dataDir: dir, topologyYaml: TOPOLOGY, extra: { risk: { file: modelFile } } });

async function stationDays(station: string, from: string, to: string): Promise<StationRiskDay[]> {
  return ((await (await ts.fetch(`/api/risk/stations/${station}?from=${from}&to=${to}`, { role: 'viewer' })).json()) as { days: StationRiskDay[] }).days;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-inputs-'));
  const shipped = await readFile(fileURLToPath(new URL('../../config/risk.yaml', import.meta.url)), 'utf8');
  modelFile = path.join(dir, 'risk.yaml');
  // a provisional run of today every 1.2 s
  await writeFile(modelFile, shipped.replace(/^provisionalEveryMinutes: .*$/m, 'provisionalEveryMinutes: 0.02'));
  await seed();
  ts = await start();
}, 60_000);
afterAll(async () => {
  await ts?.close({ keepData: true });
  await rm(dir, { recursive: true, force: true });
});

describe('risk inputs from the running server', () => {
  it('at start the last complete day whose daily run was missed is computed as a daily run', async () => {
    await ts.server.risk!.catchUp;
    const lastDue = nextComputeTime({ computeAt: '06:00', timezone: TZ }, new Date()).getTime() - 86_400_000;
    const missed = addDays(dayOf(lastDue, TZ), -1);
    const d = await stationDays('s1', missed, missed);
    expect(d).toHaveLength(1);
    expect(d[0]!.run).toBe('daily');
  });

  it('yesterday\'s indicators of s1 come from its readings, line loss, plans and journal; s2 has no data for them', async () => {
    const res = await ts.fetch('/api/risk/compute', { method: 'POST', role: 'operator', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ day: yesterday }) });
    expect(res.status).toBe(200);
    const days = ((await res.json()) as { days: StationRiskDay[] }).days;
    const v = (station: string) => Object.fromEntries(days.find((d) => d.station === station)!.indicators.map((i) => [i.id, i.status === 'ok' ? i.value : i.status]));
    expect(v('s1')).toMatchObject({
      // 96 minutes inside at T1, 48 above at L1
      'voltage-qualification': 66.67,
      'heavy-load-hours': 4,
      'abnormal-loss-areas': 1,
      'notices-late-or-wrong': 2,
      'one-key-calls': 2,
      'one-key-answer-time': 60,
      'ack-time-mean': 10,
      'unacknowledged-alarms': 0,
    });
    // (96 + 48) quarter hours with a reading of the 2 meters × 96 of each of the window's 30 days
    expect(v('s1')['meter-comm-availability']).toBeCloseTo(((96 + 48) / (2 * 96 * 30)) * 100, 1);
    expect(v('s2')).toMatchObject({
      'voltage-qualification': 'no-data',
      'heavy-load-hours': 'no-data',
      'meter-comm-availability': 'no-data',
      'abnormal-loss-areas': 'no-data',
      'ack-time-mean': 'no-data',
      'one-key-answer-time': 'no-data',
      'one-key-calls': 0,
      'notices-late-or-wrong': 0,
    });
  });

  it('a provisional run of today follows every provisionalEveryMinutes', async () => {
    let got: StationRiskDay | undefined;
    for (const end = Date.now() + 20_000; !got && Date.now() < end; await new Promise((r) => setTimeout(r, 250))) got = (await stationDays('s1', today, today))[0];
    expect(got).toMatchObject({ day: today, run: 'provisional' });
    expect(got!.window.to).toBeLessThanOrEqual(Date.now());
  });

  it('the history survives a restart (DuckDB)', async () => {
    const before = await stationDays('s1', yesterday, yesterday);
    await ts.close({ keepData: true });
    ts = await start();
    expect(await stationDays('s1', yesterday, yesterday)).toEqual(before);
  }, 60_000);
});
