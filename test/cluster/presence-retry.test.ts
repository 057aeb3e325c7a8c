/**
 * The server's presence subscription refused by the broker (SUBACK 0x80, as a
 * NATS gateway answers while its JetStream has no leader) is asked again
 * every second: the agent's retained `online` arrives once the broker grants
 * it, on the same connection. A real Ingest in cluster mode (presence only)
 * against a real MQTT broker (aedes) whose subscribe policy refuses the first
 * two requests.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ingest } from '../../server/ingest.ts';
import { Metrics } from '../../server/metrics.ts';
import { DuckDbStore } from '../../server/store/duckdb.ts';
import { memoryLog } from '../support/logger.ts';
import { until } from '../support/until.ts';

describe('presence subscription refused by the broker', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('is asked again every second until granted; the retained presence then arrives', async () => {
    let asked = 0;
    const broker = await Aedes.createBroker({
      authorizeSubscribe(_client, sub, done) {
        if (sub.topic.startsWith('gridwatch/v1/agent/') && ++asked <= 2) return done(null, null);
        done(null, sub);
      },
    });
    const tcp = net.createServer(broker.handle as (s: net.Socket) => void);
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => broker.close(() => tcp.close(() => r()))));
    const url = `mqtt://127.0.0.1:${(tcp.address() as AddressInfo).port}`;

    // an agent's retained presence, there before the server subscribes
    const agent = await mqtt.connectAsync(url, { clientId: 'pr-agent' });
    await agent.publishAsync('gridwatch/v1/agent/pr-a1/state', 'online', { qos: 1, retain: true });
    await agent.endAsync();

    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-presence-retry-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const store = new DuckDbStore(path.join(dir, 'gw.duckdb'));
    await store.start();
    cleanups.push(() => store.stop());
    const { log, lines } = memoryLog('info');
    const ingest = new Ingest(
      { url, clientId: 'pr-server', cluster: true, batchSize: 100, flushIntervalMs: 20, maxPending: 1000, writeConcurrency: 1 },
      { store, live: { publish: () => undefined }, metrics: new Metrics(), log, devices: new Map() },
    );
    const states: string[] = [];
    ingest.onAgentState((a, s) => states.push(`${a}=${s}`));
    await ingest.start();
    cleanups.push(() => ingest.stop());

    await until(() => (states.includes('pr-a1=online') ? [] : [`presence: ${states.join(', ') || 'none'}; asked ${asked}`]), 15_000, 'the presence after the refusals');
    expect(asked).toBe(3);
    const msgs = lines.map((l) => String((l as { msg?: unknown }).msg));
    expect(msgs.filter((m) => m.startsWith('subscribe failed'))).toHaveLength(1);
    expect(msgs).toContain('subscription granted after being refused');
  }, 30_000);
});
