/**
 * Store and forward, end to end (issue 3): an agent polls 50 meters at 1 Hz
 * (five simulated RS-485 gateways, ten unit ids each) into a disk spool; a
 * real server stores them in a real influxd through a private Mosquitto, which
 * is SIGKILLed for 30 s and restarted (no persistence: whatever the broker
 * held is gone with it). Afterwards every reading the agent took is in
 * InfluxDB exactly once, and the ones read during the outage are marked late.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createAgent, loadAgentConfig, type Agent } from '../../edge-agent/index.ts';
import type { ModbusSimulator } from '../../simulators/index.ts';
import { startMosquitto, type ServiceHandle } from '../harness/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { gatewayDevices, largestGap, memoryLog, sleep, startGateways, storedBySite, tmpDir, waitFor } from './support.ts';

const influxUrl = inject('influxUrl');
const uid = randomBytes(4).toString('hex');
const OUTAGE_MS = 30_000;

describe('broker outage', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('broker SIGKILLed for 30 s under 50 meters at 1 Hz: every reading in InfluxDB, none missing, none duplicated', async () => {
    const broker: ServiceHandle = await startMosquitto();
    cleanups.push(() => broker.stop());
    const site = `sf-${uid}`;
    const agentId = `sf-agent-${uid}`;
    const database = `gw_outage_${uid}`;
    const server: TestServer = await startTestServer({ mqttUrl: broker.url, influxUrl, database, sites: [site] });
    cleanups.push(() => server.close());
    const sims: ModbusSimulator[] = await startGateways(5, 10, 7);
    cleanups.push(() => Promise.all(sims.map((s) => s.stop())));
    const spool = tmpDir('gw-outage-spool-');
    cleanups.push(spool.remove);

    const { log, lines } = memoryLog('info');
    const config = loadAgentConfig({
      agent: agentId,
      site,
      mqtt: { url: broker.url, reconnectPeriodMs: 250, reconnectMaxMs: 2000, keepaliveS: 5 },
      publishIntervalMs: 500,
      spool: { dir: spool.dir, fsync: 'interval', fsyncIntervalMs: 200 },
      devices: gatewayDevices(sims, 10),
    });
    const agent: Agent = createAgent(config, { log });
    cleanups.push(() => agent.stop());
    await agent.start();

    // running and acknowledged before the outage
    await waitFor('the first watermark', () => agent.stats().uplink.watermark > 0 && agent.stats().spool.acked > agent.stats().spool.firstSeq - 2 && agent.stats().spool.appended >= 150, 15_000);
    await broker.kill();
    const killedAt = Date.now();
    await sleep(OUTAGE_MS);
    const during = agent.stats();
    expect(during.uplink.connected).toBe(false);
    // ~30 s × 50 meters waiting in the spool, none acknowledged
    expect(during.spool.unacked).toBeGreaterThanOrEqual(50 * 28);
    expect(during.uplink.connectFailures).toBeGreaterThanOrEqual(10);
    expect(during.uplink.connectFailures).toBeLessThanOrEqual(OUTAGE_MS / 250); // backed off, not hammering
    const backlogUpTo = during.spool.nextSeq - 1;
    await broker.restart();
    const restartedAt = Date.now();

    await waitFor('the backlog acknowledged by the server', () => agent.stats().spool.acked >= backlogUpTo, 30_000);
    const drainMs = Date.now() - restartedAt;
    await agent.stop();
    const st = agent.stats();
    // what stop() sent is stored shortly after
    const expected = new Map(Object.entries(st.devices).map(([id, d]) => [id, d.polls]));
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    let stored = new Map<string, { ts: number; quality: string; late: boolean }[]>();
    await waitFor(
      'every reading in InfluxDB',
      async () => {
        stored = await storedBySite(influxUrl, database, site);
        return [...expected].every(([id, n]) => (stored.get(id)?.length ?? 0) >= n);
      },
      20_000,
      250,
    );
    expect(st.spool.lost).toBe(0);
    expect(st.spool.appended).toBe(total);
    for (const [id, n] of expected) {
      const pts = stored.get(id)!;
      // none missing, none duplicated: one point per poll, each at its own timestamp
      expect(pts.length, id).toBe(n);
      expect(new Set(pts.map((p) => p.ts)).size, id).toBe(n);
      // and no hole in the 1 Hz series: the outage is filled from the spool
      expect(largestGap(pts).gapMs, id).toBeLessThan(1600);
      // the outage was backfill: marked late
      const inOutage = pts.filter((p) => p.ts > killedAt + 1000 && p.ts < restartedAt - 1000);
      expect(inOutage.length, id).toBeGreaterThanOrEqual(27);
      expect(inOutage.every((p) => p.late), id).toBe(true);
      expect(pts.every((p) => p.quality === 'good'), id).toBe(true);
    }
    expect(stored.size).toBe(50);
    // the reconnection was logged as state changes, not once per attempt
    const changes = lines.filter((l) => l.msg === 'mqtt connection state changed').map((l) => `${String(l.from)}→${String(l.to)}`);
    expect(changes).toEqual(['down→up', 'up→down', 'down→up']);
    process.stderr.write(
      `[outage] ${total} readings of 50 meters; ${during.spool.unacked} spooled during ${OUTAGE_MS / 1000} s down; backlog stored ${drainMs} ms after restart; ` +
        `${st.uplink.resent} resent, ${st.uplink.late} late, ${st.uplink.connectFailures} failed connects\n`,
    );
  }, 120_000);
});
