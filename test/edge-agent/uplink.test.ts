/**
 * The uplink's store-and-forward protocol against a real (private) Mosquitto,
 * with the test playing the server: what a PUBACK does not prove, the
 * watermark does.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseReadingsPayload, readingsTopic, SERVER_STATE_TOPIC, watermarkTopic, type Reading } from '../../contract/index.ts';
import { DiskSpool, loadAgentConfig, MemorySpool, ReadingsUplink, type MqttConfig } from '../../edge-agent/index.ts';
import { startMosquitto, type ServiceHandle } from '../harness/index.ts';
import { testLog } from '../support/logger.ts';
import { sleep, tmpDir, waitFor } from './support.ts';

const uid = randomBytes(4).toString('hex');
let broker: ServiceHandle;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  broker = await startMosquitto();
});
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
});
afterAll(async () => {
  await broker.stop();
});

const mqttConfig = (url: string, extra: Record<string, unknown> = {}): MqttConfig =>
  loadAgentConfig({ agent: 'a', site: 's', mqtt: { url, ...extra }, devices: [{ id: 'x', profile: 'dtsu666', transport: { kind: 'tcp', host: 'h', port: 1 }, unitId: 1 }] }).mqtt;

/** The test as the server: subscribes to one agent's readings, announces itself, publishes watermarks. */
async function fakeServer(site: string, agent: string) {
  const client: MqttClient = await mqtt.connectAsync(broker.url, { clientId: `fake-server-${agent}`, reconnectPeriod: 0 });
  const got: Reading[] = [];
  /** each message's envelope: where the agent's spool starts, its next seq */
  const envelopes: { from?: number; next?: number; skip?: [number, number][] }[] = [];
  client.on('message', (_t, payload) => {
    const r = parseReadingsPayload(payload, agent);
    if (r.ok) {
      got.push(...r.value.readings);
      envelopes.push({ from: r.value.from, next: r.value.next, ...(r.value.skip ? { skip: r.value.skip } : {}) });
    }
  });
  await client.subscribeAsync(readingsTopic(site, agent), { qos: 1 });
  return {
    got,
    envelopes,
    online: () => client.publishAsync(SERVER_STATE_TOPIC, 'online', { qos: 1 }),
    watermark: (seq: number) => client.publishAsync(watermarkTopic(agent), JSON.stringify({ agent, seq, at: Date.now() }), { qos: 1, retain: true }),
    close: () => client.endAsync(),
  };
}

/**
 * A TCP gate in front of the broker: while shut, it hangs up on every
 * connection (and shutting it drops the open ones); while open it passes
 * bytes both ways.
 */
async function brokerGate(brokerUrl: string) {
  const target = new URL(brokerUrl);
  let isOpen = false;
  const pairs = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    sock.on('error', () => undefined);
    if (!isOpen) return void sock.destroy();
    const up = net.connect(Number(target.port), target.hostname);
    up.on('error', () => sock.destroy());
    sock.on('close', () => up.destroy());
    up.on('close', () => sock.destroy());
    sock.pipe(up).pipe(sock);
    pairs.add(sock);
    sock.on('close', () => pairs.delete(sock));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const shut = () => {
    isOpen = false;
    for (const s of pairs) s.destroy();
  };
  return {
    url: `mqtt://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    open: () => void (isOpen = true),
    shut,
    close: () => {
      shut();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

describe('uplink store and forward', () => {
  it('what this run read before its first connection goes out live (late only by age); what it read during a later outage is late', async () => {
    const site = `s-${uid}`;
    const agent = `a5-${uid}`;
    const server = await fakeServer(site, agent);
    cleanups.push(() => server.close());
    const gate = await brokerGate(broker.url);
    cleanups.push(() => gate.close());
    const spool = new MemorySpool({ initialSeq: 0 });
    spool.open();
    const up = new ReadingsUplink({ agent, site, mqtt: mqttConfig(gate.url, { reconnectPeriodMs: 100, reconnectMaxMs: 200 }), publishIntervalMs: 50, lateAfterMs: 5000, spool, log: testLog });
    cleanups.push(() => up.stop());
    up.start();
    // polled while the broker does not answer yet: one reading older than lateAfterMs, five fresh
    const now = Date.now();
    spool.append({ device: 'm1', ts: now - 6000, v: { ua: 230 }, q: 'good' });
    for (let i = 0; i < 5; i++) spool.append({ device: 'm1', ts: now + i, v: { ua: 230 }, q: 'good' });
    await waitFor('a refused attempt', () => up.stats().connectFailures > 0);
    gate.open();
    await waitFor('the six sent', () => new Set(server.got.map((r) => r.seq)).size === 6);
    const first = (seq: number) => server.got.find((r) => r.seq === seq)!;
    expect([0, 1, 2, 3, 4, 5].map((s) => first(s).late === true)).toEqual([true, false, false, false, false, false]);

    // a later outage: what is read while it lasts is backfill, however fresh
    gate.shut();
    await waitFor('link down', () => !up.stats().connected);
    for (let i = 0; i < 5; i++) spool.append({ device: 'm1', ts: Date.now(), v: { ua: 230 }, q: 'good' });
    gate.open();
    await waitFor('the five sent', () => new Set(server.got.map((r) => r.seq)).size === 11);
    expect([6, 7, 8, 9, 10].every((s) => first(s).late === true)).toBe(true);
    expect(up.stats().connects).toBe(2);
  });

  it('sends the first readings of a run at once, not at the next publish interval', async () => {
    const site = `s-${uid}`;
    const agent = `a8-${uid}`;
    const server = await fakeServer(site, agent);
    cleanups.push(() => server.close());
    const spool = new MemorySpool({ initialSeq: 0 });
    spool.open();
    // an interval far longer than the wait below: only the first-readings rule can send them in time
    const up = new ReadingsUplink({ agent, site, mqtt: mqttConfig(broker.url), publishIntervalMs: 300_000, spool, log: testLog });
    cleanups.push(() => up.stop());
    up.start();
    await waitFor('connected', () => up.stats().connected);
    spool.append({ device: 'm1', ts: Date.now(), v: { ua: 230 }, q: 'good' });
    up.notify();
    await waitFor('the first reading on the broker', () => server.got.length === 1, 30_000);
    expect(up.stats().published).toBe(1);
  });

  it('readings the broker took while no server listened are sent again, late, when a server announces online', async () => {
    const site = `s-${uid}`;
    const agent = `a1-${uid}`;
    const spool = new MemorySpool({ initialSeq: 0 });
    spool.open();
    const up = new ReadingsUplink({ agent, site, mqtt: mqttConfig(broker.url), publishIntervalMs: 50, spool, log: testLog });
    cleanups.push(() => up.stop());
    up.start();
    await waitFor('connected', () => up.stats().connected);
    const now = Date.now();
    for (let i = 0; i < 10; i++) spool.append({ device: 'm1', ts: now + i, v: { ua: 230 }, q: 'good' });
    await waitFor('published into the void', () => up.stats().published === 10);
    expect(spool.stats().unacked).toBe(10); // a PUBACK is not a watermark

    const server = await fakeServer(site, agent);
    cleanups.push(() => server.close());
    await server.online();
    await waitFor('the resend', () => server.got.length === 10);
    expect(server.got.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(server.got.every((r) => r.late === true)).toBe(true);
    expect(up.stats()).toMatchObject({ rewinds: 1, resent: 10 });
    await server.watermark(9);
    await waitFor('forgotten once stored', () => spool.stats().unacked === 0);
    expect(up.stats().watermark).toBe(9);
  });

  it('a watermark is applied only up to what was sent again since the server came back', async () => {
    const site = `s-${uid}`;
    const agent = `a2-${uid}`;
    const spool = new MemorySpool({ initialSeq: 100 });
    spool.open();
    // one message of 5 in flight at a time: the resend takes several round trips
    const up = new ReadingsUplink({ agent, site, mqtt: mqttConfig(broker.url), publishIntervalMs: 20, maxBatch: 5, maxInflight: 1, spool, log: testLog });
    cleanups.push(() => up.stop());
    up.start();
    await waitFor('connected', () => up.stats().connected);
    for (let i = 0; i < 40; i++) spool.append({ device: 'm1', ts: Date.now(), v: { ua: 230 }, q: 'good' });
    await waitFor('all 40 published with no server', () => up.stats().published === 40);

    const server = await fakeServer(site, agent);
    cleanups.push(() => server.close());
    // the new server has stored something newer (say, live readings) and says "all ≤ 139"
    // right after announcing itself; the agent must not forget 100..139 before it re-sent them
    await server.online();
    await server.watermark(139);
    await waitFor('every reading re-sent', () => new Set(server.got.map((r) => r.seq)).size === 40, 5000);
    expect([...new Set(server.got.map((r) => r.seq))].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => 100 + i));
    await waitFor('then forgotten', () => spool.stats().unacked === 0);
  });

  it('a watermark that stands still below what was sent makes the agent resend from it, again and again, less and less often', async () => {
    const site = `s-${uid}`;
    const agent = `a4-${uid}`;
    const server = await fakeServer(site, agent);
    cleanups.push(() => server.close());
    const spool = new MemorySpool({ initialSeq: 0 });
    spool.open();
    const up = new ReadingsUplink({ agent, site, mqtt: mqttConfig(broker.url), publishIntervalMs: 20, watermarkStallMs: 200, watermarkStallMaxMs: 400, spool, log: testLog });
    cleanups.push(() => up.stop());
    up.start();
    await waitFor('connected', () => up.stats().connected);
    for (let i = 0; i < 20; i++) spool.append({ device: 'm1', ts: Date.now(), v: { ua: 230 }, q: 'good' });
    await waitFor('all 20 received', () => server.got.length === 20);
    // every message says where the spool starts and its next seq
    expect(server.envelopes.every((e) => e.from === 0 && e.next === 20)).toBe(true);
    // the server stored 0..9 only (10..19 were lost on the way): its watermark holds at 9
    await server.watermark(9);
    await waitFor('resent from the watermark', () => server.got.filter((r) => r.seq === 10).length >= 2, 10_000);
    expect(spool.stats()).toMatchObject({ acked: 9, firstSeq: 10 });
    expect(server.got.slice(20, 30).map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    expect(server.got.slice(20, 30).every((r) => r.late)).toBe(true);
    expect(server.envelopes.at(-1)).toEqual({ from: 10, next: 20 });
    // still stuck: it goes on resending (the wait doubled, up to its cap)
    await waitFor('a second resend', () => up.stats().stalls >= 2, 10_000);
    await server.watermark(19);
    await waitFor('forgotten once stored', () => spool.stats().unacked === 0);
    const stalls = up.stats().stalls;
    // once the watermark caught up nothing waits for it: no more resends
    await sleep(1000);
    expect(up.stats().stalls).toBe(stalls);
  });

  it('does not resend for a stalled watermark while the server is offline (its online will)', async () => {
    const site = `s-${uid}`;
    const agent = `a6-${uid}`;
    const server = await fakeServer(site, agent);
    cleanups.push(() => server.close());
    const presence = await mqtt.connectAsync(broker.url, { clientId: `presence-${uid}`, reconnectPeriod: 0 });
    cleanups.push(async () => {
      // the retained state goes, for the tests after this one
      await presence.publishAsync(SERVER_STATE_TOPIC, '', { qos: 1, retain: true });
      await presence.endAsync();
    });
    await presence.publishAsync(SERVER_STATE_TOPIC, 'offline', { qos: 1, retain: true });
    const spool = new MemorySpool({ initialSeq: 0 });
    spool.open();
    const up = new ReadingsUplink({ agent, site, mqtt: mqttConfig(broker.url), publishIntervalMs: 20, watermarkStallMs: 100, spool, log: testLog });
    cleanups.push(() => up.stop());
    up.start();
    await waitFor('connected', () => up.stats().connected);
    for (let i = 0; i < 5; i++) spool.append({ device: 'm1', ts: Date.now(), v: { ua: 230 }, q: 'good' });
    await waitFor('all 5 received', () => server.got.length >= 5);
    await sleep(1000);
    expect(up.stats().stalls).toBe(0);
    // a server comes: its live online rewinds, and from then on a stuck watermark is resent
    await presence.publishAsync(SERVER_STATE_TOPIC, 'online', { qos: 1, retain: true });
    await waitFor('resent on online', () => server.got.length >= 10);
    await waitFor('a stall resend', () => up.stats().stalls >= 1, 10_000);
  });

  it('a spool line that cannot be read back any more is sent as skip, once counted, so the watermark can pass it', async () => {
    const site = `s-${uid}`;
    const agent = `a7-${uid}`;
    const dir = tmpDir('gw-uplink-skip-');
    cleanups.push(dir.remove);
    const opts = { dir: dir.dir, fsync: 'none' as const, fsyncIntervalMs: 1000, maxBytes: 1024 * 1024, segmentBytes: 64 * 1024, log: testLog };
    const first = new DiskSpool(opts);
    first.open();
    for (let i = 0; i < 30; i++) first.append({ device: 'm1', ts: Date.now() + i, v: { ua: 230 }, q: 'good' });
    first.close();
    // seq 10 rots on disk: a line that no longer decodes
    const seg = path.join(dir.dir, readdirSync(dir.dir).find((f) => f.endsWith('.seg'))!);
    const lines = readFileSync(seg, 'utf8').split('\n');
    lines[10] = '\u0000'.repeat(lines[10]!.length);
    writeFileSync(seg, lines.join('\n'));

    const server = await fakeServer(site, agent);
    cleanups.push(() => server.close());
    const spool = new DiskSpool(opts);
    spool.open();
    cleanups.push(() => spool.close());
    const up = new ReadingsUplink({ agent, site, mqtt: mqttConfig(broker.url), publishIntervalMs: 20, spool, log: testLog });
    cleanups.push(() => up.stop());
    up.start();
    await waitFor('the 29 readable ones received', () => server.got.length >= 29);
    // at least once: a loaded machine may see a stall resend, so duplicates are allowed, holes and seq 10 are not
    expect([...new Set(server.got.map((r) => r.seq))].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i).filter((s) => s !== 10));
    expect(server.envelopes.some((e) => JSON.stringify(e.skip) === '[[10,10]]')).toBe(true);
    expect(up.stats().skipped).toBe(1);
    await server.watermark(29);
    await waitFor('forgotten once stored', () => spool.stats().unacked === 0);
  });

  it('ignores a watermark above its next seq (left by an earlier spool of the agent)', async () => {
    const site = `s-${uid}`;
    const agent = `a5-${uid}`;
    const server = await fakeServer(site, agent);
    cleanups.push(() => server.close());
    // what an earlier life of the agent earned, retained on the broker
    await server.watermark(1_000_000);
    const spool = new MemorySpool({ initialSeq: 0 });
    spool.open();
    const up = new ReadingsUplink({ agent, site, mqtt: mqttConfig(broker.url), publishIntervalMs: 20, spool, log: testLog });
    cleanups.push(() => up.stop());
    up.start();
    await waitFor('connected', () => up.stats().connected);
    for (let i = 0; i < 5; i++) spool.append({ device: 'm1', ts: Date.now(), v: { ua: 230 }, q: 'good' });
    await waitFor('all 5 received', () => server.got.length >= 5);
    await sleep(200);
    expect(spool.stats()).toMatchObject({ acked: -1, unacked: 5 });
    expect(up.stats().watermark).toBe(-1);
    // the server starts its watermark again (it saw next: 5 ≤ its 1 000 000) and publishes 4
    await server.watermark(4);
    await waitFor('forgotten once stored', () => spool.stats().unacked === 0);
  });

  it('reconnects back off exponentially with jitter, capped at reconnectMaxMs', async () => {
    // a "broker" that accepts and hangs up at once
    const attempts: number[] = [];
    const sockets = new Set<net.Socket>();
    const srv = net.createServer((sock) => {
      attempts.push(performance.now());
      sockets.add(sock);
      sock.on('error', () => undefined);
      sock.destroy();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => srv.close(r)));
    const port = (srv.address() as net.AddressInfo).port;
    const spool = new MemorySpool();
    spool.open();
    const up = new ReadingsUplink({
      agent: `a3-${uid}`,
      site: 's',
      mqtt: mqttConfig(`mqtt://127.0.0.1:${port}`, { reconnectPeriodMs: 100, reconnectMaxMs: 800 }),
      publishIntervalMs: 1000,
      spool,
      log: testLog,
    });
    cleanups.push(() => up.stop());
    up.start();
    await sleep(6000);
    await up.stop();
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // 50–100, 100–200, 200–400, 400–800, then capped at 400–800
    expect(gaps.length).toBeGreaterThanOrEqual(6);
    expect(gaps.length).toBeLessThanOrEqual(14);
    expect(gaps[0]!).toBeLessThan(200);
    for (const g of gaps) expect(g).toBeLessThan(800 + 100);
    const capped = gaps.slice(4);
    for (const g of capped) expect(g).toBeGreaterThanOrEqual(400 - 20);
    // jitter: the capped waits are not all the same
    expect(Math.max(...capped) - Math.min(...capped)).toBeGreaterThan(10);
    expect(up.stats().connectFailures).toBe(attempts.length);
    expect(up.stats().connects).toBe(0);
  }, 15_000);
});
