/**
 * Readings bound to the agent that sends them, and the bounds on invented
 * ids, against real Mosquitto brokers and real servers: unknown devices accepted
 * store-only (live but never evaluated) up to their bound; a bare start
 * (no topology) bounds devices and agents; a known agent's binding
 * violation is audited; presence of invented agents is not kept.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { agentStateTopic, readingsTopic } from '../../contract/index.ts';
import { startMosquitto, type ServiceHandle } from '../harness/index.ts';
import { eventually } from '../support/ws-client.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const P = `bind-${process.pid}`;
let pub: MqttClient;
const seqs = new Map<string, number>();

function send(site: string, agent: string, readings: Array<{ device: string; v?: Record<string, number>; ts?: number }>): Promise<unknown> {
  return sendVia(pub, site, agent, readings);
}

function sendVia(client: MqttClient, site: string, agent: string, readings: Array<{ device: string; v?: Record<string, number>; ts?: number }>): Promise<unknown> {
  const list = readings.map((r) => {
    const seq = seqs.get(agent) ?? 0;
    seqs.set(agent, seq + 1);
    return { device: r.device, ts: r.ts ?? Date.now(), seq, v: r.v ?? { ua: 230 }, q: 'good' };
  });
  return client.publishAsync(readingsTopic(site, agent), JSON.stringify({ agent, readings: list }), { qos: 1 });
}

async function rejected(ts: TestServer): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await ts.server.metrics.rejected.get()).values) out[String(v.labels.reason)] = (out[String(v.labels.reason)] ?? 0) + v.value;
  return out;
}

beforeAll(async () => {
  pub = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `${P}-pub` });
});
afterAll(async () => pub?.endAsync());

describe('unknownDevices: accept', () => {
  const site = `${P}-acc`;
  const agent = `${P}-acc-agent`;
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({
      mqttUrl: inject('mqttUrl'),
      topologyYaml: `
sites:
  - id: ${site}
    name: Accept
    rooms:
      - id: r1
        name: R1
        agent: ${agent}
        transformers:
          - { id: t1, name: T1, ratedKva: 630, lines: [{ id: l1, name: L1, ratedCurrentA: 100, meter: ${P}-m1 }] }
`,
      extra: { ingest: { flushIntervalMs: 20, unknownDevices: 'accept', maxUnknownDevices: 3 } },
    });
  });
  afterAll(async () => ts?.close());

  it('stores and shows up to maxUnknownDevices unknown devices, rejects the rest as too_many_devices, and never gives them to the rules', async () => {
    const strays = [1, 2, 3, 4, 5].map((i) => `${P}-stray-${i}`);
    // what the rules are given (the alarm service listens here)
    const ruled: string[] = [];
    ts.server.ingest.onReadings((rs) => ruled.push(...rs.map((r) => r.device)));
    await send(site, agent, [{ device: `${P}-m1` }, ...strays.map((device) => ({ device }))]);
    await eventually(async () => (await ts.server.store.latest(strays)).length === 3, 10_000, 'three strays stored');
    await ts.server.ingest.drain();
    expect((await rejected(ts)).too_many_devices).toBe(2);
    expect(ts.server.live.latest().filter((r) => r.device.includes('-stray-')).map((r) => r.device).sort()).toEqual(strays.slice(0, 3));
    // the rules saw the bound meter only
    expect(ruled).toEqual([`${P}-m1`]);
    // a known stray keeps being taken; a new one still is not
    await send(site, agent, [{ device: strays[0]! }, { device: `${P}-stray-9` }]);
    await eventually(async () => (await rejected(ts)).too_many_devices === 3, 10_000, 'the sixth refused');
    const text = await (await ts.fetch('/metrics')).text();
    expect(text).toMatch(/gridwatch_ingest_unknown_devices 3/);
  });
});

describe('bare start (no topology)', () => {
  const site = `${P}-bare`;
  let ts: TestServer;
  let broker: ServiceHandle;
  let own: MqttClient;
  beforeAll(async () => {
    // a broker of its own: on the shared one, other tests' retained agent presence would take the agent bound
    broker = await startMosquitto();
    own = await mqtt.connectAsync(broker.url, { clientId: `${P}-bare-pub` });
    ts = await startTestServer({ mqttUrl: broker.url, sites: [site], extra: { ingest: { flushIntervalMs: 20, maxUnknownDevices: 4, maxUnknownAgents: 2 } } });
  });
  afterAll(async () => {
    await ts?.close();
    await own?.endAsync();
    await broker?.stop();
  });

  it('takes devices and agents up to their bounds; presence is kept for admitted agents only', async () => {
    const send = (s: string, agent: string, readings: Array<{ device: string }>) => sendVia(own, s, agent, readings);
    const pub = own;
    await send(site, `${P}-b1`, [1, 2, 3].map((i) => ({ device: `${P}-bd-${i}` })));
    await send(site, `${P}-b2`, [4, 5].map((i) => ({ device: `${P}-bd-${i}` })));
    await send(site, `${P}-b3`, [{ device: `${P}-bd-1` }]);
    await eventually(async () => (await rejected(ts)).too_many_agents === 1 && (await rejected(ts)).too_many_devices === 1, 10_000, 'bounds counted');
    for (const a of [`${P}-b1`, `${P}-b2`, `${P}-b3`, `${P}-b4`]) await pub.publishAsync(agentStateTopic(a), 'online', { qos: 1, retain: false });
    await eventually(async () => (await rejected(ts)).too_many_agents === 3, 10_000, 'presence of b3 and b4 refused');
    expect(Object.keys(ts.server.ingest.agents()).sort()).toEqual([`${P}-b1`, `${P}-b2`]);
    await eventually(async () => (await ts.server.store.latest([1, 2, 3, 4, 5].map((i) => `${P}-bd-${i}`))).length === 4, 10_000, 'four devices stored');
    await ts.server.ingest.drain();
    expect((await ts.server.store.latest([`${P}-bd-5`])).length).toBe(0);
  });
});

describe('binding', () => {
  const site = `${P}-bnd`;
  const a1 = `${P}-a1`;
  const a2 = `${P}-a2`;
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({
      mqttUrl: inject('mqttUrl'),
      sites: [site, `${P}-other`],
      topologyYaml: `
sites:
  - id: ${site}
    name: Binding
    rooms:
      - { id: r1, name: R1, agent: ${a1}, sensors: [${P}-s1] }
      - { id: r2, name: R2, agent: ${a2}, sensors: [${P}-s2] }
      - { id: r3, name: Open, sensors: [${P}-s3] }
`,
    });
  });
  afterAll(async () => ts?.close());

  it("refuses another agent's device, its spool and a foreign site's topic; takes its own and an open room's; audits the known agent", async () => {
    await send(site, a1, [{ device: `${P}-s1` }, { device: `${P}-s2` }, { device: `${a2}.spool`, v: { lost_readings: 0 } }, { device: `${a1}.spool`, v: { lost_readings: 0 } }]);
    await send(`${P}-other`, a1, [{ device: `${P}-s1` }]);
    // an agent the topology does not name: an open room's device on its site only
    await send(site, `${P}-x`, [{ device: `${P}-s3` }, { device: `${P}-s1` }]);
    await eventually(async () => (await rejected(ts)).not_bound === 3 && (await rejected(ts)).site_mismatch === 1, 10_000, 'refusals counted');
    await eventually(async () => (await ts.server.store.latest([`${P}-s1`, `${a1}.spool`, `${P}-s3`])).length === 3, 10_000, 'own, spool and open stored');
    expect(await ts.server.store.latest([`${P}-s2`, `${a2}.spool`])).toEqual([]);
    const audited = ts.server.audit.query({ kind: ['reading_rejected'] });
    expect(audited.map((e) => [e.actor, e.detail]).sort()).toEqual([
      [a1, 'not_bound'],
      [a1, 'not_bound'],
      [a1, 'site_mismatch'],
    ]);
    // label values: the known agent by name, the unnamed one as ''
    const text = await (await ts.fetch('/metrics')).text();
    expect(text).toContain(`gridwatch_readings_rejected_total{reason="not_bound",agent="${a1}"} 2`);
    expect(text).toContain('gridwatch_readings_rejected_total{reason="not_bound",agent=""} 1');
  });
});
