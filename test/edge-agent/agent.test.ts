/**
 * Simulator ↔ edge agent over real Modbus TCP, agent → a real Mosquitto of
 * this file's own (an agent resends unacknowledged readings whenever any
 * server announces `online`, which other tests' servers do on the shared
 * broker, and these tests count messages exactly), checked by a real MQTT
 * subscriber.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentStateTopic, parseReadingsPayload, readingsTopic, type Reading } from '../../contract/index.ts';
import { createAgent, loadAgentConfig, MemorySpool, ReadingsUplink, type AgentConfigInput } from '../../edge-agent/index.ts';
import { createMeterModel, startModbusSimulator, type ModbusSimulator } from '../../simulators/index.ts';
import { startMosquitto, type ServiceHandle } from '../harness/index.ts';
import { memoryLog, tmpDir, waitFor } from './support.ts';

let broker: ServiceHandle;
let mqttUrl = '';
const uid = randomBytes(4).toString('hex');

/** Messages of one agent as a subscriber sees them. */
class Watcher {
  readonly readings: Reading[] = [];
  readonly messages: { agent: string; count: number }[] = [];
  readonly states: string[] = [];
  /** contract errors of anything the agent published (must stay empty) */
  readonly invalid: unknown[] = [];
  constructor(
    private readonly client: MqttClient,
    readonly agent: string,
  ) {}

  static async open(site: string, agent: string): Promise<Watcher> {
    const client = await mqtt.connectAsync(mqttUrl, { clientId: `watch-${agent}`, reconnectPeriod: 0 });
    const w = new Watcher(client, agent);
    client.on('message', (topic, payload) => {
      if (topic === agentStateTopic(agent)) {
        w.states.push(payload.toString());
        return;
      }
      const r = parseReadingsPayload(payload, agent);
      if (!r.ok) {
        w.invalid.push(...r.errors);
        return;
      }
      w.invalid.push(...r.value.rejected);
      w.messages.push({ agent: r.value.agent, count: r.value.readings.length });
      w.readings.push(...r.value.readings);
    });
    await client.subscribeAsync({ [readingsTopic(site, agent)]: { qos: 1 }, [agentStateTopic(agent)]: { qos: 1 } });
    return w;
  }

  of(device: string): Reading[] {
    return this.readings.filter((r) => r.device === device);
  }

  async until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; ${this.readings.length} readings, states ${this.states.join(',')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

const device = (id: string, port: number, unitId: number, extra: Partial<NonNullable<AgentConfigInput['devices']>[number]> = {}) => ({
  id,
  profile: 'dtsu666',
  transport: { kind: 'tcp' as const, host: '127.0.0.1', port },
  unitId,
  intervalMs: 200,
  timeoutMs: 150,
  backoffMaxMs: 400,
  ...extra,
});

describe('edge agent against the DTSU666 simulator and a real broker', () => {
  let sim: ModbusSimulator;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    mqttUrl = broker.url;
    sim = await startModbusSimulator({
      port: 0,
      units: [
        { unitId: 1, model: createMeterModel({ profile: 'feeder', seed: 11 }) },
        { unitId: 2, model: createMeterModel({ profile: 'residential', seed: 12 }) },
      ],
    });
  });
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  });
  afterAll(async () => {
    await sim.stop();
    await broker?.stop();
  });

  it('publishes exactly the meter values, stamped at the poll, numbered in order, good; a dead unit goes comm_loss alone', async () => {
    const site = `site-${uid}`;
    const agentId = `agent-a-${uid}`;
    // every value checked below is set: the model's own (e.g. ub, hence uab) follow its load curve and time of day
    sim.setOverride(1, { ua: 231.4, uab: 400.8, ia: 105.25, p: 71.2, ep_imp: 12345.6 });
    sim.setOverride(2, { ua: 228.8, ib: 7.125, p: -3.5, f: 49.98 });
    const watcher = await Watcher.open(site, agentId);
    cleanups.push(() => watcher.close());

    const stamps = new Set<number>();
    const clock = () => {
      const t = Date.now();
      stamps.add(t);
      return t;
    };
    const { log, lines } = memoryLog();
    const config = loadAgentConfig({
      agent: agentId,
      site,
      mqtt: { url: mqttUrl, keepaliveS: 10 },
      publishIntervalMs: 100,
      devices: [device('m1', sim.port, 1), device('m2', sim.port, 2)],
    });
    const agent = createAgent(config, { log, clock });
    cleanups.push(() => agent.stop());
    const t0 = Date.now();
    await agent.start();

    await watcher.until('three good readings of each meter', () => watcher.of('m1').length >= 3 && watcher.of('m2').length >= 3);
    expect(watcher.states[0]).toBe('online');

    for (const r of watcher.of('m1')) {
      expect(r.q).toBe('good');
      // float32 holds these scaled integers exactly, and the decoder returns the decimals
      expect(r.v.ua).toBe(231.4);
      expect(r.v.ia).toBe(105.25);
      expect(r.v.p).toBe(71.2);
      expect(r.v.ep_imp).toBeCloseTo(12345.6, 2);
      expect(r.v.uab).toBeCloseTo(400.8, 1);
      expect(Object.keys(r.v).sort()).toEqual(
        ['ep_exp', 'ep_imp', 'f', 'ia', 'ib', 'ic', 'p', 'pa', 'pb', 'pc', 'pf', 'q', 'ua', 'uab', 'ub', 'ubc', 'uc', 'uca'].sort(),
      );
    }
    for (const r of watcher.of('m2')) {
      expect(r.v).toMatchObject({ ua: 228.8, ib: 7.125, p: -3.5, f: 49.98 });
    }
    // ts is the agent's clock read at the start of a poll; polls of one meter are one interval apart
    for (const r of watcher.readings) {
      expect(stamps.has(r.ts)).toBe(true);
      expect(r.ts).toBeGreaterThanOrEqual(t0);
    }
    const ts1 = watcher.of('m1').map((r) => r.ts);
    // one interval (200 ms) apart, on a fixed-rate grid: only a poll whose timer fired late on a loaded
    // machine is followed by a shorter gap (a clean CI run: 25 ms), so every short gap has a long one
    // before it (or the first poll was the late one) — never a burst
    const gaps = ts1.slice(1).map((t, i) => t - ts1[i]!);
    expect(gaps.filter((g) => g < 150).length).toBeLessThanOrEqual(gaps.filter((g) => g > 250).length + 1);
    // the first polls are spread over the interval, not fired together
    expect(Math.abs(watcher.of('m2')[0]!.ts - watcher.of('m1')[0]!.ts)).toBeGreaterThanOrEqual(50);
    // seq strictly increasing in publish order, across devices
    const seqs = watcher.readings.map((r) => r.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    expect(seqs[0]).toBeGreaterThanOrEqual(t0 * 1000);
    // batched: a message carries several readings (publish every 100 ms, polls every 200 ms for 2 meters)
    expect(watcher.messages.every((m) => m.agent === agentId)).toBe(true);

    // unit 2 dies: its readings become comm_loss without values, unit 1 stays good
    sim.setDead(2, true);
    const deadAt = watcher.readings.length;
    await watcher.until('three comm_loss readings of m2', () => watcher.readings.slice(deadAt).filter((r) => r.device === 'm2' && r.q === 'comm_loss').length >= 3);
    const afterDeath = watcher.readings.slice(deadAt);
    const m2Loss = afterDeath.filter((r) => r.device === 'm2' && r.q === 'comm_loss');
    for (const r of m2Loss) expect(r.v).toEqual({});
    const m1After = afterDeath.filter((r) => r.device === 'm1');
    expect(m1After.length).toBeGreaterThanOrEqual(3);
    for (const r of m1After) expect(r).toMatchObject({ q: 'good', v: { ua: 231.4 } });
    expect(agent.stats().devices.m2!.errors.GW_ERR_MODBUS_TIMEOUT).toBeGreaterThanOrEqual(3);
    expect(agent.stats().devices.m2!.state).toBe('comm_loss');

    // back to life: good again
    sim.setDead(2, false);
    const aliveAt = watcher.readings.length;
    await watcher.until('m2 good again', () => watcher.readings.slice(aliveAt).some((r) => r.device === 'm2' && r.q === 'good'));

    // state changes are logged once each, not once per failed poll
    const changes = lines.filter((l) => l.msg === 'device state changed' && l.deviceId === 'm2').map((l) => `${String(l.from)}→${String(l.to)}`);
    expect(changes).toEqual(['unknown→good', 'good→comm_loss', 'comm_loss→good']);
    const loss = lines.find((l) => l.msg === 'device state changed' && l.to === 'comm_loss')!;
    expect(String(loss.reason)).toMatch(/^GW_ERR_MODBUS_TIMEOUT: unit 2 fc 3 0x2000\+70: no answer within 150 ms$/);

    // stop: what was read goes out, then the retained offline
    await agent.stop();
    await watcher.until('offline state', () => watcher.states.includes('offline'));
    expect(watcher.states).toEqual(['online', 'offline']);
    expect(watcher.invalid).toEqual([]);
    const st = agent.stats();
    expect(st.uplink.pending).toBe(0);
    expect(st.uplink.published).toBe(watcher.readings.length);
    expect(st.seq - seqs[0]!).toBe(watcher.readings.length);
  });

  it('a wrong firmware address is a Modbus exception: comm_loss with the reason, logged once', async () => {
    const site = `site-${uid}`;
    const agentId = `agent-b-${uid}`;
    const watcher = await Watcher.open(site, agentId);
    cleanups.push(() => watcher.close());
    const { log, lines } = memoryLog();
    // the simulator keeps import kWh at 0x401E; this profile reads 0x101E, outside the meter's map
    const agent = createAgent(
      loadAgentConfig({ agent: agentId, site, mqtt: { url: mqttUrl }, publishIntervalMs: 100, devices: [device('m1', sim.port, 1, { profile: 'dtsu666-101e', backoffMaxMs: 0 })] }),
      { log },
    );
    cleanups.push(() => agent.stop());
    await agent.start();
    await watcher.until('three comm_loss readings', () => watcher.of('m1').filter((r) => r.q === 'comm_loss').length >= 3);
    expect(watcher.of('m1').every((r) => r.q === 'comm_loss')).toBe(true);
    // a poll on a loaded machine may also time out (150 ms): its comm_loss is not an exception; wait for three that are
    await watcher.until('three Modbus exceptions counted', () => (agent.stats().devices.m1!.errors.GW_ERR_MODBUS_EXCEPTION ?? 0) >= 3);
    expect(agent.stats().devices.m1!.errors.GW_ERR_MODBUS_EXCEPTION).toBeGreaterThanOrEqual(3);
    const changes = lines.filter((l) => l.msg === 'device state changed');
    expect(changes).toHaveLength(1);
    expect(String(changes[0]!.reason)).toMatch(/GW_ERR_MODBUS_EXCEPTION: unit 1 fc 3 0x101E\+2: Modbus exception 2/);
    await agent.stop();
  });

  it('a gateway that is not there: comm_loss for its devices, reconnects when it appears, nothing left open after stop', async () => {
    const site = `site-${uid}`;
    const agentId = `agent-c-${uid}`;
    // a port that was free a moment ago
    const probe = await startModbusSimulator({ port: 0, units: [] });
    const port = probe.port;
    await probe.stop();

    const watcher = await Watcher.open(site, agentId);
    cleanups.push(() => watcher.close());
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const { log } = memoryLog();
    const agent = createAgent(
      loadAgentConfig({ agent: agentId, site, mqtt: { url: mqttUrl }, publishIntervalMs: 100, devices: [device('m9', port, 1)] }),
      { log },
    );
    cleanups.push(() => agent.stop());
    await agent.start();
    await watcher.until('comm_loss', () => watcher.of('m9').some((r) => r.q === 'comm_loss'));
    expect(agent.stats().devices.m9!.errors.GW_ERR_MODBUS_CONNECT).toBeGreaterThanOrEqual(1);

    const late = await startModbusSimulator({ port, units: [{ unitId: 1, model: createMeterModel({ profile: 'commercial' }) }] });
    cleanups.push(() => late.stop());
    await watcher.until('good after the gateway appeared', () => watcher.of('m9').some((r) => r.q === 'good'), 15_000);

    await agent.stop();
    await late.stop();
    // stop() left no timer or socket of its own behind (a closed handle leaves the list a tick after its close callback)
    await new Promise((r) => setTimeout(r, 50));
    const after = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const count = (xs: string[], k: string) => xs.filter((x) => x === k).length;
    expect(count(after, 'Timeout')).toBeLessThanOrEqual(count(before, 'Timeout'));
    expect(count(after, 'TCPSocketWrap')).toBeLessThanOrEqual(count(before, 'TCPSocketWrap'));
    expect(count(after, 'TCPServerWrap')).toBeLessThanOrEqual(count(before, 'TCPServerWrap'));
  });

  it('a spool over its quota drops the oldest readings, exactly counted, and the center sees the count as lost_readings of <agent>.spool', async () => {
    const own = await startMosquitto();
    cleanups.push(() => own.stop());
    const site = `site-${uid}`;
    const agentId = `agent-q-${uid}`;
    const dir = tmpDir('gw-quota-');
    cleanups.push(async () => dir.remove());
    const { log, lines } = memoryLog();
    const agent = createAgent(
      loadAgentConfig({
        agent: agentId,
        site,
        mqtt: { url: own.url, reconnectPeriodMs: 100, reconnectMaxMs: 300 },
        publishIntervalMs: 100,
        spool: { dir: dir.dir, fsync: 'none', maxBytes: 16 * 1024, segmentBytes: 2048 },
        devices: [device('m1', sim.port, 1, { intervalMs: 100 }), device('m2', sim.port, 2, { intervalMs: 100 })],
      }),
      { log },
    );
    cleanups.push(() => agent.stop());
    await agent.start();
    await waitFor('connected', () => agent.stats().uplink.connected);
    await own.kill();
    await waitFor('the quota overflowing', () => agent.stats().spool.lost > 20, 15_000);
    await own.restart();
    const watcher = await mqtt.connectAsync(own.url, { clientId: `watch-q-${uid}`, reconnectPeriod: 0 });
    cleanups.push(() => watcher.endAsync());
    const got: Reading[] = [];
    // where the spool started (its oldest held seq) in each message: the watcher may connect
    // after the agent has resent the first of its backlog, so the seqs it sees can start later
    const froms: number[] = [];
    watcher.on('message', (_t, p) => {
      const r = parseReadingsPayload(p, agentId);
      if (!r.ok) return;
      got.push(...r.value.readings);
      if (r.value.from !== undefined) froms.push(r.value.from);
    });
    await watcher.subscribeAsync(readingsTopic(site, agentId), { qos: 1 });
    await waitFor('the loss report', () => got.some((r) => r.device === `${agentId}.spool` && (r.v.lost_readings ?? 0) > 0), 10_000);
    await agent.stop();
    // QoS 1 is at least once: a backlog resent after a reconnection arrives twice (same seqs); one of each counts
    const bySeq = new Map(got.filter((r) => r.device === `${agentId}.spool`).map((r) => [r.seq, r] as const));
    const reports = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    expect(reports.every((r) => r.q === 'good' && Number.isInteger(r.v.lost_readings))).toBe(true);
    const st = agent.stats().spool;
    // cumulative: never down, never past what the spool counted
    const counts = reports.map((r) => r.v.lost_readings!);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(Math.max(...counts)).toBeLessThanOrEqual(st.lost);
    const logged = lines.filter((l) => l.msg === 'readings lost to the spool quota; reported as lost_readings of the spool');
    expect(logged.length).toBeGreaterThanOrEqual(1);
    // the logged losses add up to the counter, and every seq is either lost or was held
    expect(logged.reduce((n, l) => n + Number(l.readings), 0)).toBe(st.lost);
    const firstLost = Number(logged[0]!.fromSeq);
    // nothing acknowledges here (no server), so the spool starts where the quota left it
    expect(froms.length).toBeGreaterThan(0);
    const heldFrom = Math.min(...froms);
    expect(heldFrom).toBeGreaterThan(firstLost);
    expect(heldFrom - firstLost).toBeLessThanOrEqual(st.lost);
    expect(st.bytes).toBeLessThanOrEqual(16 * 1024);
  });

  it('uplink: the first reading goes at once; then 500 pending readings go out at once, not at the next publish period, as one message', async () => {
    const site = `site-${uid}`;
    const agentId = `agent-d-${uid}`;
    const watcher = await Watcher.open(site, agentId);
    cleanups.push(() => watcher.close());
    const { log } = memoryLog();
    const mqttConfig = loadAgentConfig({ agent: agentId, site, mqtt: { url: mqttUrl }, devices: [device('x', 1, 1)] }).mqtt;
    const spool = new MemorySpool({ initialSeq: 0 });
    spool.open();
    const uplink = new ReadingsUplink({ agent: agentId, site, mqtt: mqttConfig, publishIntervalMs: 60_000, spool, log });
    const push = (r: Omit<Reading, 'seq'>) => {
      spool.append(r);
      uplink.notify();
    };
    cleanups.push(() => uplink.stop());
    uplink.start();
    await watcher.until('online', () => watcher.states.includes('online'));
    const now = Date.now();
    // the run's first reading goes at once (start-up to first publish), alone
    push({ device: 'x', ts: now, v: { f: 50 }, q: 'good' });
    await watcher.until('the first reading', () => watcher.readings.length === 1, 10_000);
    await watcher.until('its PUBACK', () => uplink.stats().published === 1, 10_000);
    for (let i = 0; i < 499; i++) push({ device: 'x', ts: now, v: { f: 50 }, q: 'good' });
    await new Promise((r) => setTimeout(r, 300));
    expect(watcher.readings).toHaveLength(1); // 499: waits for the period
    push({ device: 'x', ts: now, v: { f: 50 }, q: 'good' });
    await watcher.until('the batch', () => watcher.readings.length === 501, 2000);
    expect(watcher.messages).toEqual([
      { agent: agentId, count: 1 },
      { agent: agentId, count: 500 },
    ]);
    expect(watcher.readings.map((r) => r.seq)).toEqual(Array.from({ length: 501 }, (_, i) => i));
    expect(watcher.readings.some((r) => r.late)).toBe(false);
    // whatever is pending at stop is published before the offline state
    push({ device: 'x', ts: now, v: {}, q: 'comm_loss' });
    await uplink.stop();
    await watcher.until('offline', () => watcher.states.includes('offline'));
    expect(watcher.readings.at(-1)).toMatchObject({ seq: 501, q: 'comm_loss' });
    expect(uplink.stats()).toMatchObject({ published: 502, messages: 3, pending: 0, late: 0, resent: 0 });
  });
});
