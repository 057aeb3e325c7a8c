/**
 * Acceptance: 100,000 hostile messages of every kind (among them payloads
 * shaped to be slow to parse) through a real (private) Mosquitto into a real
 * server, interleaved with valid readings.
 * The server stays up; memory, /metrics and the log stay bounded; every
 * valid reading is stored exactly once; every refusal is counted under the
 * reason it was sent for; invented ids leave no live value, rule state,
 * alarm or agent entry behind.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentStateTopic, callTopic, readingsTopic } from '../../contract/index.ts';
import { startMosquitto, type ServiceHandle } from '../harness/index.ts';
import { memoryLog } from '../support/logger.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';

const SITE = 'hs';
const A1 = 'hs-a1';
const A2 = 'hs-a2';
const M1 = ['hs-m1', 'hs-m2', 'hs-m3', 'hs-m4', 'hs-m5'];
const M2 = ['hs-n1', 'hs-n2', 'hs-n3', 'hs-n4', 'hs-n5'];
const line = (m: string, i: number) => `              - { id: l-${m}, name: L${i}, ratedCurrentA: 250, meter: ${m} }`;
const TOPOLOGY = `
sites:
  - id: ${SITE}
    name: Hostile
    rooms:
      - id: r1
        name: R1
        agent: ${A1}
        transformers:
          - id: t1
            name: T1
            ratedKva: 630
            lines:
${M1.map(line).join('\n')}
      - id: r2
        name: R2
        agent: ${A2}
        transformers:
          - id: t2
            name: T2
            ratedKva: 630
            lines:
${M2.map(line).join('\n')}
`;

const HOSTILE_MESSAGES = 100_000;
/** a valid message (5 readings) after every VALID_EVERY hostile ones */
const VALID_EVERY = 20;

interface Msg {
  topic: string;
  payload: string | Buffer;
  /** the reason it must be counted under; null for a valid message */
  reason: string | null;
}

let broker: ServiceHandle;
let ts: TestServer;
const memLog = memoryLog('warn');
const rid = () => randomBytes(6).toString('hex');

beforeAll(async () => {
  broker = await startMosquitto();
  // every site: messages on other sites' topics reach the server and must be refused there
  ts = await startTestServer({ mqttUrl: broker.url, topologyYaml: TOPOLOGY, sites: [], log: memLog.log });
}, 60_000);
afterAll(async () => {
  await ts?.close();
  await broker?.stop();
});

/** The messages, generated: one per kind in turn, a valid one in between. */
function* messages(now: number): Generator<Msg> {
  const seq = { [A1]: 0, [A2]: 0 } as Record<string, number>;
  const reading = (agent: string, device: string, over: Record<string, unknown> = {}) => ({ device, ts: now - 30_000, seq: seq[agent]!++, v: { ua: 230, ia: 50 }, q: 'good', ...over });
  const body = (agent: string, readings: unknown[], extra = '') => `{"agent":"${agent}","readings":${JSON.stringify(readings)}${extra}}`;
  const t1 = readingsTopic(SITE, A1);
  let validTs = now - 60_000;
  const deep = `${'['.repeat(3000)}${']'.repeat(3000)}`;
  const kinds: Array<() => Msg> = [
    () => ({ topic: t1, payload: `{"agent":"${A1}","readings":[{"device":`, reason: 'invalid_json' }),
    () => ({ topic: readingsTopic(SITE, `inv-${rid()}`), payload: '{not json', reason: 'unknown_agent' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, 'hs-m1')], ',"__proto__":{"polluted":1}'), reason: 'unknown_key' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, 'hs-m1', { v: { constructor: 1 } })]), reason: 'unknown_quantity' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, 'hs-m1', { v: { __proto__: null, toString: 1 } })]), reason: 'unknown_quantity' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, 'hs-m1')]).replace('"ua":230', '"ua":1e999'), reason: 'not_finite' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, 'hs-m1', { ts: 'yesterday' })]), reason: 'wrong_type' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, 'hs-m1')]).replace('"ua":230', `"ua":${deep}`), reason: 'wrong_type' }),
    () => ({ topic: t1, payload: body(A2, []), reason: 'agent_mismatch' }),
    () => ({ topic: readingsTopic(`far-${rid()}`, A1), payload: body(A1, []), reason: 'site_mismatch' }),
    () => ({ topic: readingsTopic(`far-${rid()}`, `inv-${rid()}`), payload: '{}', reason: 'unknown_site' }),
    () => ({ topic: `gridwatch/v1/agent/inv-${rid()}/readings`, payload: '{}', reason: 'bad_topic' }),
    () => ({ topic: agentStateTopic(`inv-${rid()}`), payload: 'online', reason: 'unknown_agent' }),
    () => ({ topic: callTopic(`far-${rid()}`), payload: '{}', reason: 'unknown_site' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, `inv-${rid()}`)]), reason: 'unknown_device' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, M2[0]!)]), reason: 'not_bound' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, `${A2}.spool`, { v: { lost_readings: 0 } })]), reason: 'not_bound' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, 'hs-m2', { ts: now + 86_400_000 })]), reason: 'future_ts' }),
    () => ({ topic: t1, payload: body(A1, [reading(A1, 'hs-m2', { ts: now - 500 * 86_400_000 })]), reason: 'too_old' }),
  ];
  const valid = (): Msg => {
    const agent = validTs % 2 === 0 ? A1 : A2;
    const devices = agent === A1 ? M1 : M2;
    const t = validTs++;
    return { topic: readingsTopic(SITE, agent), payload: body(agent, devices.map((d) => reading(agent, d, { ts: t }))), reason: null };
  };
  // a few very large ones
  for (let i = 0; i < 3; i++) yield { topic: t1, payload: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20), reason: 'too_large' };
  for (let i = 0; i < 3; i++) yield { topic: t1, payload: body(A1, Array.from({ length: 10_001 }, () => 0)), reason: 'too_many' };
  for (let i = 0; i < 3; i++) yield { topic: t1, payload: Buffer.from(`${'['.repeat(1_500_000)}${']'.repeat(1_500_000)}`), reason: 'too_deep' };
  const wide = Buffer.from(`{"agent":"${A1}","readings":[],${Array.from({ length: 250_000 }, (_, k) => `"k${k}":1`).join(',')}}`);
  for (let i = 0; i < 3; i++) yield { topic: t1, payload: wide, reason: 'too_many' };
  for (let i = 0; i < HOSTILE_MESSAGES - 12; i++) {
    yield kinds[i % kinds.length]!();
    if (i % VALID_EVERY === 0) yield valid();
  }
}

async function publishAll(clients: MqttClient[], gen: Generator<Msg>, until: number, sent: Map<string, number>, validReadings: { n: number }): Promise<void> {
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          let inflight = 0;
          let done = false;
          const pump = () => {
            while (!done && inflight < 100) {
              if (sent.get('__total')! >= until) break;
              const next = gen.next();
              if (next.done) {
                done = true;
                break;
              }
              const m = next.value;
              sent.set('__total', sent.get('__total')! + 1);
              if (m.reason) sent.set(m.reason, (sent.get(m.reason) ?? 0) + 1);
              else validReadings.n += 5;
              inflight++;
              c.publish(m.topic, m.payload, { qos: 1 }, (err) => {
                if (err) return reject(err);
                inflight--;
                pump();
              });
            }
            if (inflight === 0) resolve();
          };
          pump();
        }),
    ),
  );
}

async function rejectedByReason(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of (await ts.server.metrics.rejected.get()).values) out.set(String(v.labels.reason), (out.get(String(v.labels.reason)) ?? 0) + v.value);
  return out;
}

const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;

describe('hostile input through a real broker', () => {
  it('stays up and bounded, stores every valid reading once and counts every refusal by reason', async () => {
    const clients = await Promise.all([0, 1, 2, 3].map((i) => mqtt.connectAsync(broker.url, { clientId: `hostile-${i}-${process.pid}` })));
    const now = Date.now();
    const gen = messages(now);
    const sent = new Map<string, number>([['__total', 0]]);
    const valid = { n: 0 };
    const mem0 = process.memoryUsage();
    const t0 = performance.now();
    const settled = async () => {
      const want = new Map([...sent].filter(([k]) => k !== '__total'));
      await eventually(
        async () => {
          const got = await rejectedByReason();
          return [...want].every(([r, n]) => got.get(r) === n) && (await ts.server.metrics.readingsIn.get()).values[0]!.value === valid.n;
        },
        60_000,
        'every message counted',
      );
    };

    // half, then the size of /metrics; the other half (other invented ids), and the size again
    await publishAll(clients, gen, 52_500, sent, valid);
    await settled();
    const metricsMidText = await (await ts.fetch('/metrics')).text();
    const metricsMid = metricsMidText.length;
    await publishAll(clients, gen, Infinity, sent, valid);
    await settled();
    const seconds = (performance.now() - t0) / 1000;
    const metricsText = await (await ts.fetch('/metrics')).text();
    const mem1 = process.memoryUsage();
    const total = sent.get('__total')!;
    const hostile = total - valid.n / 5;
    process.stderr.write(
      `[hostile] ${total} messages (${hostile} hostile, ${valid.n} valid readings) in ${seconds.toFixed(1)} s; ` +
        `rss ${mb(mem0.rss)} → ${mb(mem1.rss)}, heap ${mb(mem0.heapUsed)} → ${mb(mem1.heapUsed)}; ` +
        `/metrics ${metricsMid} → ${metricsText.length} bytes; ${memLog.lines.length} warn+ log lines\n`,
    );
    expect(hostile).toBeGreaterThanOrEqual(100_000);

    // every refusal counted under its reason, nothing else refused
    const got = await rejectedByReason();
    for (const [reason, n] of sent) if (reason !== '__total') expect(got.get(reason), reason).toBe(n);
    expect([...got.keys()].sort()).toEqual([...sent.keys()].filter((k) => k !== '__total').sort());
    // label values from bounded sets: the topology's agents or ''
    for (const v of (await ts.server.metrics.rejected.get()).values) expect(['', A1, A2]).toContain(v.labels.agent);

    // /metrics small, and no bigger after 45,000 more hostile messages with new ids
    expect(metricsText.length).toBeLessThan(200_000);
    // our series (the process metrics may add one when a kind of GC first happens)
    const series = (text: string) => text.split('\n').filter((l) => l.startsWith('gridwatch_')).map((l) => l.slice(0, l.lastIndexOf(' ')));
    expect(series(metricsText)).toEqual(series(metricsMidText));
    expect(metricsText.length - metricsMid).toBeLessThan(2000);

    // memory bounded (the unbounded version grew by gigabytes on fewer ids)
    expect(mem1.heapUsed - mem0.heapUsed).toBeLessThan(300 * 1048576);

    // every valid reading stored exactly once
    await ts.server.ingest.drain();
    const history = await ts.server.store.history({ devices: [...M1, ...M2], quantities: ['ua'], from: now - 120_000, to: now });
    const stored = history.reduce((n, s) => n + s.ts.length, 0);
    expect(stored).toBe(valid.n);
    for (const s of history) expect(new Set(s.ts).size).toBe(s.ts.length);

    // invented ids left nothing behind: live values, agents, alarms are the topology's only
    const devices = new Set([...M1, ...M2]);
    expect(ts.server.live.latest().every((r) => devices.has(r.device))).toBe(true);
    const health = await (await ts.fetch('/api/health')).json();
    expect(health.status).not.toBe('down');
    expect(Object.keys(health.agents).sort()).toEqual([A1, A2]);
    expect(ts.server.alarms.current().every((a) => devices.has(a.source) || a.source === 'mqtt-broker' || [A1, A2].includes(a.source))).toBe(true);

    // the log: a bounded number of lines, whatever the volume
    const byMsg = new Map<string, number>();
    for (const l of memLog.lines) byMsg.set(`${String(l.reason ?? '')} ${String(l.msg).slice(0, 60)}`, (byMsg.get(`${String(l.reason ?? '')} ${String(l.msg).slice(0, 60)}`) ?? 0) + 1);
    if (process.env.GW_TEST_LOG) process.stderr.write(`${[...byMsg].map(([k, n]) => `${n}× ${k}`).join('\n')}\n`);
    // per reason: the first line, then at most one per 10-s interval (the run takes longer on a loaded machine)
    const reasons = [...sent.keys()].length - 1;
    expect(memLog.lines.length).toBeLessThanOrEqual(reasons * (Math.ceil(seconds / 10) + 2) + 20);
    // binding violations of known agents are audited, rate-limited
    const audited = ts.server.audit.query({ kind: ['reading_rejected'] });
    expect(audited.length).toBeGreaterThan(0);
    expect(audited.length).toBeLessThanOrEqual(50);
    expect(audited.every((e) => e.actor === A1)).toBe(true);

    // still serving: a last valid reading goes through
    const last = Date.now();
    await clients[0]!.publishAsync(readingsTopic(SITE, A1), JSON.stringify({ agent: A1, readings: [{ device: 'hs-m1', ts: last, seq: 10_000_000, v: { ua: 231 }, q: 'good' }] }), { qos: 1 });
    await eventually(async () => (await ts.server.store.latest(['hs-m1']))[0]?.ts === last, 10_000, 'the last reading stored');
    await Promise.all(clients.map((c) => c.endAsync()));
  }, 180_000);
});
