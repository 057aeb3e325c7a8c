/**
 * The walking skeleton end to end, every hop real:
 *   Modbus TCP simulator (DTSU666 registers) → edge agent → MQTT → server →
 *   store → WebSocket client.
 * Once with a real Mosquitto and a real influxd (queried back over InfluxQL),
 * once with the embedded broker and the DuckDB store.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createAgent, loadAgentConfig } from '../../edge-agent/index.ts';
import { createMeterModel, startModbusSimulator, type ModbusSimulator } from '../../simulators/index.ts';
import { influxQuery } from '../harness/index.ts';
import { testLog } from '../support/logger.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { connectWs, eventually, type RecordingClient } from '../support/ws-client.ts';

const TOPOLOGY = `
sites:
  - id: e2e-site
    name: E2E 供电所
    rooms:
      - id: e2e-room
        name: E2E 配电房
        agent: e2e-agent
        transformers:
          - id: e2e-t1
            name: 1#配变
            ratedKva: 630
            meter: e2e-m1
            lines:
              - { id: e2e-l1, name: 出线1, ratedCurrentA: 250, meter: e2e-m2 }
`;

/** Known register values, as the meter's engineering units; the simulator encodes them as DTSU666 scaled float32. */
const KNOWN = { ua: 231.4, ub: 229.6, uc: 230.2, ia: 105.25, ib: 98.5, ic: 101.75, p: 71.2, pf: 0.973, f: 50.02, ep_imp: 12345.6 };

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function runSlice(server: TestServer, creds: { username?: string; password?: string } = {}): Promise<{ ts: number; ws: RecordingClient }> {
  const sim: ModbusSimulator = await startModbusSimulator({
    port: 0,
    units: [
      { unitId: 1, model: createMeterModel({ profile: 'feeder', seed: 11 }) },
      { unitId: 2, model: createMeterModel({ profile: 'residential', seed: 12 }) },
    ],
  });
  cleanup.push(() => sim.stop());
  sim.setOverride(1, KNOWN);
  const ws = await connectWs(server.wsUrl, { cookie: await server.cookie('viewer') });
  cleanup.push(() => ws.close());
  await ws.next((f) => f.type === 'snapshot');

  const startedAt = Date.now();
  const agent = createAgent(
    loadAgentConfig({
      agent: 'e2e-agent',
      site: 'e2e-site',
      mqtt: { url: server.server.mqttUrl, ...creds },
      publishIntervalMs: 200,
      devices: [
        { id: 'e2e-m1', profile: 'dtsu666', transport: { kind: 'tcp', host: sim.host, port: sim.port }, unitId: 1, intervalMs: 500, timeoutMs: 500 },
        { id: 'e2e-m2', profile: 'dtsu666', transport: { kind: 'tcp', host: sim.host, port: sim.port }, unitId: 2, intervalMs: 500, timeoutMs: 500 },
      ],
    }),
    { log: testLog },
  );
  await agent.start();
  cleanup.push(() => agent.stop());

  const frame = await ws.next((f) => f.type === 'readings' && f.readings.some((r: any) => r.device === 'e2e-m1' && r.q === 'good'), 15_000);
  const r = frame.readings.find((x: any) => x.device === 'e2e-m1');
  expect(r).toMatchObject({ site: 'e2e-site', room: 'e2e-room', transformer: 'e2e-t1', line: '', q: 'good', late: false });
  // float32 of the scaled integer: exact to the register's resolution
  for (const [q, v] of Object.entries(KNOWN)) expect(r.v[q], q).toBeCloseTo(v, q === 'ep_imp' ? 1 : 3);
  // derived on the server from the topology: S = √(P² + Q²) or Σ U·I over 630 kVA
  expect(r.v.load_rate).toBeGreaterThan(0);
  // the poll's own timestamp, not arrival time
  expect(r.ts).toBeGreaterThanOrEqual(startedAt);
  expect(r.ts).toBeLessThanOrEqual(Date.now());
  // the other unit on the same gateway is live too
  await ws.next((f) => f.type === 'readings' && f.readings.some((x: any) => x.device === 'e2e-m2' && x.q === 'good'), 15_000);
  return { ts: r.ts, ws };
}

describe('walking skeleton: simulator → agent → MQTT → server → store → WebSocket', () => {
  it('with real Mosquitto and real influxd (InfluxQL back out)', async () => {
    const db = `e2e_${process.pid}_${Date.now()}`;
    const server = await startTestServer({ mqttUrl: inject('mqttUrl'), influxUrl: inject('influxUrl'), database: db, topologyYaml: TOPOLOGY });
    cleanup.push(() => server.close());
    const { ts } = await runSlice(server);
    const rows = await eventually(async () => {
      const res = await influxQuery(inject('influxUrl'), db, `SELECT "ua","ub","uc","ia","ib","ic","p","pf","f","ep_imp","quality","room" FROM reading WHERE "device" = 'e2e-m1' AND time = ${ts}ms`);
      return res[0]?.series?.[0];
    }, 15_000, 'the polled reading in InfluxDB');
    const row = Object.fromEntries(rows.columns.map((c: string, i: number) => [c, rows.values[0]![i]]));
    expect(row.time).toBe(ts);
    expect(row).toMatchObject({ quality: 'good', room: 'e2e-room' });
    for (const [q, v] of Object.entries(KNOWN)) expect(row[q], q).toBeCloseTo(v, q === 'ep_imp' ? 1 : 3);
  });

  it('with the embedded broker and the DuckDB store', async () => {
    const server = await startTestServer({ topologyYaml: TOPOLOGY });
    cleanup.push(() => server.close());
    expect(server.server.mqttUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    // the embedded broker takes provisioned agents only
    const { username, password } = await server.mqttAgent('e2e-agent', 'e2e-site');
    const { ts } = await runSlice(server, { username, password });
    const series = await eventually(async () => {
      const s = await server.server.store.history({ devices: ['e2e-m1'], quantities: ['ua', 'ia', 'p', 'ep_imp'], from: ts, to: ts + 1 });
      return s.length === 4 ? s : null;
    }, 15_000, 'the polled reading in DuckDB');
    const by = Object.fromEntries(series.map((s) => [s.quantity, s]));
    expect(by.ua!.ts).toEqual([ts]);
    expect(by.ua!.values[0]).toBeCloseTo(KNOWN.ua, 3);
    expect(by.ia!.values[0]).toBeCloseTo(KNOWN.ia, 3);
    expect(by.p!.values[0]).toBeCloseTo(KNOWN.p, 3);
    expect(by.ep_imp!.values[0]).toBeCloseTo(KNOWN.ep_imp, 1);
  });
});
