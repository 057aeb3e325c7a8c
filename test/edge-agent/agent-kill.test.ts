/**
 * The agent SIGKILLed while its spool holds readings: the agent
 * runs as its own process (`edge-agent/main.ts`) with a disk spool; the
 * (private) broker is killed so readings pile up in the spool, then the agent
 * is SIGKILLed, the broker restarted and the agent started again on the same
 * spool. Every reading the spool held reaches InfluxDB, the seq counter goes
 * on where it stopped, and presence is right: retained `online` on connect,
 * `offline` from the last will when the agent dies with the broker up.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { agentStateTopic, parseReadingsPayload, readingsTopic, spoolDeviceId, type Reading } from '../../contract/index.ts';
import type { ModbusSimulator } from '../../simulators/index.ts';
import { startMosquitto } from '../harness/index.ts';
import { startTestServer } from '../support/server.ts';
import { gatewayDevices, largestGap, sleep, spawnAgent, startGateways, storedBySite, tmpDir, waitFor, type AgentProcess } from './support.ts';

const influxUrl = inject('influxUrl');
const uid = randomBytes(4).toString('hex');

/** Every reading in a spool directory the agent holds unacknowledged (per its state.json). */
function spooled(dir: string): { readings: Reading[]; acked: number } {
  const state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as { acked: number };
  const readings: Reading[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.seg')).sort()) {
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line) as Reading;
      if (r.seq > state.acked) readings.push(r);
    }
  }
  return { readings, acked: state.acked };
}

describe('agent SIGKILL with a full spool', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('restarted on the same spool it sends everything it held, continues its seq, and its death shows as offline', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const site = `kill-${uid}`;
    const agent = `kill-agent-${uid}`;
    const database = `gw_kill_${uid}`;
    const server = await startTestServer({ mqttUrl: broker.url, influxUrl, database, sites: [site] });
    cleanups.push(() => server.close());
    const sims: ModbusSimulator[] = await startGateways(2, 10, 9);
    cleanups.push(() => Promise.all(sims.map((s) => s.stop())));
    const work = tmpDir('gw-kill-');
    cleanups.push(work.remove);
    const spoolDir = path.join(work.dir, 'spool');
    const configFile = path.join(work.dir, 'agent.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        agent,
        site,
        mqtt: { url: broker.url, reconnectPeriodMs: 250, reconnectMaxMs: 1000, keepaliveS: 5 },
        publishIntervalMs: 500,
        spool: { dir: spoolDir, fsync: 'none' },
        devices: gatewayDevices(sims, 10),
      }),
    );

    // a watcher of presence and of every readings message (it reconnects and resubscribes after the broker restart)
    const states: string[] = [];
    const seen: Reading[] = [];
    const watcher = await mqtt.connectAsync(broker.url, { clientId: `kill-watch-${uid}`, reconnectPeriod: 200 });
    cleanups.push(() => watcher.endAsync(true));
    watcher.on('message', (topic, payload) => {
      if (topic === agentStateTopic(agent)) states.push(payload.toString());
      else {
        const r = parseReadingsPayload(payload, agent);
        if (r.ok) seen.push(...r.value.readings);
      }
    });
    await watcher.subscribeAsync({ [agentStateTopic(agent)]: { qos: 1 }, [readingsTopic(site, agent)]: { qos: 1 } });

    const down: Array<[number, number]> = []; // windows in which no agent ran
    /** the latest of the devices' first polls among the readings seen that `fresh` picks (a new run's) */
    const lastFirstPoll = (fresh: (r: (typeof seen)[number]) => boolean): number => {
      const first = new Map<string, number>();
      for (const r of seen) if (fresh(r) && r.ts < (first.get(r.device) ?? Infinity)) first.set(r.device, r.ts);
      return Math.max(...first.values());
    };
    const run = (): AgentProcess => {
      const p = spawnAgent(configFile);
      cleanups.push(() => p.child.kill('SIGKILL'));
      return p;
    };
    const a1 = run();
    await waitFor('the first run stored', () => (server.server.ingest.watermark(agent) ?? -1) > 0, 20_000);
    expect(states.at(-1)).toBe('online');

    await broker.kill();
    await sleep(6000);
    a1.child.kill('SIGKILL');
    expect((await a1.exited).signal).toBe('SIGKILL');
    const a1DiedAt = Date.now();
    const held = spooled(spoolDir);
    // ~6 s × 20 meters read with the broker away, only in the spool
    expect(held.readings.length).toBeGreaterThanOrEqual(20 * 5);
    const lastHeld = held.readings.at(-1)!.seq;

    await broker.restart();
    await waitFor('the watcher back', () => watcher.connected, 10_000);
    await sleep(300); // its resubscription
    const a2 = run();
    await waitFor('the spool drained', () => (server.server.ingest.watermark(agent) ?? -1) >= lastHeld, 20_000);
    await waitFor('new readings', () => seen.some((r) => r.seq > lastHeld + 40), 10_000);
    // the counter went on from the spool: the first new reading is the next seq
    const firstNew = seen.filter((r) => r.seq > lastHeld).reduce((a, b) => (b.seq < a.seq ? b : a));
    expect(firstNew.seq).toBe(lastHeld + 1);
    // no agent ran from a poll interval before the kill until every device had its first poll of the next run
    // (measured per device: the start spread plus scheduling delays on a loaded machine)
    down.push([a1DiedAt - 1500, lastFirstPoll((r) => r.seq > lastHeld)]);
    // what the dead agent held went out as backfill
    const resent = new Map(seen.filter((r) => r.seq <= lastHeld && r.seq > held.acked).map((r) => [r.seq, r]));
    for (const r of held.readings) expect(resent.get(r.seq)).toMatchObject({ device: r.device, ts: r.ts, late: true });

    // SIGKILL with the broker up: the broker publishes the will, retained
    const statesBefore = states.length;
    a2.child.kill('SIGKILL');
    const a2DiedAt = Date.now();
    await a2.exited;
    await waitFor('offline from the last will', () => states.slice(statesBefore).includes('offline'), 5000);
    const fresh = await mqtt.connectAsync(broker.url, { clientId: `kill-fresh-${uid}`, reconnectPeriod: 0 });
    const retained = new Promise<string>((r) => fresh.once('message', (_t, p) => r(p.toString())));
    await fresh.subscribeAsync(agentStateTopic(agent), { qos: 1 });
    expect(await retained).toBe('offline');
    await fresh.endAsync();

    // a third run sends what the second left, then stops cleanly
    const a3 = run();
    await waitFor('online again', () => states.at(-1) === 'online', 10_000);
    await waitFor('the third run polling', () => seen.some((r) => r.ts > a2DiedAt), 10_000);
    await sleep(3000);
    down.push([a2DiedAt - 1500, lastFirstPoll((r) => r.ts > a2DiedAt)]);
    a3.child.kill('SIGTERM');
    expect((await a3.exited).code).toBe(0);
    expect(states.at(-1)).toBe('offline');

    // everything seen on the wire and everything the spool held is stored, once, and the only holes are when no agent ran
    const expected = new Map<string, Set<number>>();
    for (const r of [...seen, ...held.readings]) {
      if (!expected.has(r.device)) expected.set(r.device, new Set());
      expected.get(r.device)!.add(r.ts);
    }
    let stored = new Map<string, { ts: number; late: boolean }[]>();
    await waitFor(
      'every reading stored',
      async () => {
        stored = await storedBySite(influxUrl, database, site);
        return [...expected].every(([d, ts]) => {
          const have = new Set(stored.get(d)?.map((p) => p.ts));
          return [...ts].every((t) => have.has(t));
        });
      },
      15_000,
      250,
    );
    // the 20 meters and the agent's spool (its lost_readings reports: at start, on change, after catching up)
    expect(stored.size).toBe(21);
    for (const [device, pts] of stored) {
      expect(new Set(pts.map((p) => p.ts)).size, device).toBe(pts.length);
      if (device === spoolDeviceId(agent)) continue;
      for (let i = 1; i < pts.length; i++) {
        const gap = pts[i]!.ts - pts[i - 1]!.ts;
        if (gap < 1600) continue;
        const inDown = down.some(([from, to]) => pts[i - 1]!.ts >= from && pts[i]!.ts <= to);
        expect(inDown, `${device}: a ${gap} ms hole at ${pts[i - 1]!.ts} while an agent ran (no agent ran: ${JSON.stringify(down)})`).toBe(true);
      }
    }
    process.stderr.write(
      `[agent-kill] spool held ${held.readings.length} readings at SIGKILL; all stored after restart; ` +
        `largest hole ${Math.max(...[...stored.values()].map((p) => largestGap(p as never).gapMs))} ms (agent restarts)\n`,
    );
  }, 120_000);
});
