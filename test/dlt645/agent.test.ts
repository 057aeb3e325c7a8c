/**
 * The real edge agent reads DL/T 645 meters from the simulator, over a
 * transparent TCP gateway and over a serial line (a socat pty pair, 8E1),
 * and its readings arrive in the server's store (the harness's Mosquitto and
 * influxd, queried back over InfluxQL) with exactly the values the meters
 * hold: BCD decimals, not floats near them. One meter sends its values in
 * continuation frames (B1H, 12H); one current is negative (its direction),
 * stored as the magnitude.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createAgent, loadAgentConfig, type AgentConfigInput } from '../../edge-agent/index.ts';
import { createMeterModel, startDlt645Simulator, type Dlt645SimTransport, type Dlt645Simulator } from '../../simulators/index.ts';
import { serialPair, tmpDir } from '../edge-agent/support.ts';
import { influxQuery } from '../harness/index.ts';
import { testLog } from '../support/logger.ts';
import { startTestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';

// ids of this run: the broker and influxd are shared with other test files
const uid = randomBytes(3).toString('hex');
const topology = (n: number) => `
sites:
  - id: s645-${uid}-${n}
    name: 645 供电所
    rooms:
      - id: r645-${uid}-${n}
        name: 645 配电房
        agent: a645-${uid}-${n}
        transformers:
          - id: t645-${uid}-${n}
            name: 1#配变
            ratedKva: 630
            meter: m645-1-${uid}-${n}
            lines:
              - { id: l645-${uid}-${n}, name: 出线1, ratedCurrentA: 250, meter: m645-2-${uid}-${n} }
`;
let run = 0;

/** What each meter holds, in the contract's units; ib is negative on the wire. */
const KNOWN: Record<string, number> = {
  ua: 231.5, ub: 229.8, uc: 230.1, ia: 12.345, ib: -5.5, ic: 7.25,
  p: 21.2345, pa: 7.1, pb: 7.0001, pc: 7.1344, q: 3.5, pf: 0.987, f: 50.01, ep_imp: 123456.78, ep_exp: 0.01,
};
const EXPECTED: Record<string, number> = { ...KNOWN, ib: 5.5 };

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function startSim(transport: Dlt645SimTransport): Promise<Dlt645Simulator> {
  const sim = await startDlt645Simulator({
    transport,
    meters: [
      { address: '000000000001', model: createMeterModel({ profile: 'commercial', seed: 1 }) },
      // a meter with a small reply buffer: every value longer than 2 bytes comes in continuation frames
      { address: '202612060002', model: createMeterModel({ profile: 'residential', seed: 2 }), maxValueBytes: 2 },
    ],
  });
  cleanup.push(() => sim.stop());
  sim.setOverride('000000000001', KNOWN);
  sim.setOverride('202612060002', KNOWN);
  return sim;
}

type Transport = NonNullable<AgentConfigInput['dlt645']>['devices'][number]['transport'];

async function readIntoStore(transport: Transport) {
  const n = ++run;
  const db = `dlt645_${process.pid}_${Date.now()}`;
  const server = await startTestServer({ mqttUrl: inject('mqttUrl'), influxUrl: inject('influxUrl'), database: db, topologyYaml: topology(n) });
  cleanup.push(() => server.close());
  const [m1, m2] = [`m645-1-${uid}-${n}`, `m645-2-${uid}-${n}`];
  const agent = createAgent(
    loadAgentConfig({
      agent: `a645-${uid}-${n}`,
      site: `s645-${uid}-${n}`,
      mqtt: { url: inject('mqttUrl') },
      publishIntervalMs: 200,
      dlt645: {
        devices: [
          { id: m1, profile: 'dlt645-3p', address: '000000000001', transport, intervalMs: 1000, timeoutMs: 1000 },
          { id: m2, profile: 'dlt645-3p-single', address: '202612060002', transport, intervalMs: 1000, timeoutMs: 1000 },
        ],
      },
    }),
    { log: testLog },
  );
  await agent.start();
  cleanup.push(() => agent.stop());
  const columns = Object.keys(EXPECTED);
  for (const device of [m1, m2]) {
    const rows = await eventually(
      async () => {
        const res = await influxQuery(inject('influxUrl'), db, `SELECT ${columns.map((c) => `"${c}"`).join(',')},"quality" FROM reading WHERE "device" = '${device}'`);
        const s = res[0]?.series?.[0];
        return s && s.values.length >= 2 ? s : null;
      },
      20_000,
      `${device}'s readings in influxd`,
    );
    for (const v of rows.values) {
      const row = Object.fromEntries(rows.columns.map((c: string, i: number) => [c, v[i]]));
      expect(row.quality).toBe('good');
      // exact, every one: what the meter holds, as the decimal it is
      for (const c of columns) expect(row[c], `${device} ${c}`).toBe(EXPECTED[c]);
    }
  }
  const st = agent.stats();
  expect(st.devices[m1]).toMatchObject({ state: 'good', commLoss: 0 });
  expect(st.devices[m2]).toMatchObject({ state: 'good', commLoss: 0 });
  const bus = Object.values(st.dlt645)[0]!;
  expect(bus).toMatchObject({ failed: 0, meterErrors: 0, connects: 1 });
  expect(Object.values(bus.rejects).every((x) => x === 0)).toBe(true);
  return st;
}

describe('agent ↔ DL/T 645 simulator → MQTT → server → influxd', () => {
  it('over a transparent TCP gateway', async () => {
    const sim = await startSim({ kind: 'tcp', port: 0 });
    await readIntoStore({ kind: 'tcp', host: '127.0.0.1', port: sim.port });
    // the continuation frames were asked for: the second meter needs more requests than reads in its profile
    expect(sim.stats().requests).toBeGreaterThan(2 * (11 + 15));
    expect(sim.stats().abnormal).toBe(0);
  });

  it('over a serial line, 9600 8E1 (a socat pty pair)', async () => {
    const work = tmpDir('gw-645-');
    cleanup.push(async () => work.remove());
    const pair = await serialPair(work.dir);
    cleanup.push(() => pair.close());
    await startSim({ kind: 'serial', path: pair.b, baudRate: 9600 });
    const st = await readIntoStore({ kind: 'serial', path: pair.a, baudRate: 9600 });
    expect(Object.keys(st.dlt645)).toEqual([`dlt645+serial://${pair.a}`]);
  });
});
