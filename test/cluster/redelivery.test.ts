/**
 * Cluster mode: a message JetStream delivers a second time (its ack was lost
 * with a NATS node, or it was in the stream when a partition's consumer was
 * made) is older than the agent's watermark. Its readings are stored again,
 * but its envelope's `next` no longer reads as the agent restarting its
 * spool: the watermark stays where it was. A message delivered for the first
 * time still restarts it. Real Ingest over a real DuckDB file and Mosquitto.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Ingest } from '../../server/ingest.ts';
import { Metrics } from '../../server/metrics.ts';
import { DuckDbStore } from '../../server/store/duckdb.ts';
import { memoryLog } from '../support/logger.ts';
import { eventually } from '../support/ws-client.ts';

const AGENT = 'rd-agent';
const TOPIC = `gridwatch/v1/rd-site/${AGENT}/readings`;
let dir: string;
let store: DuckDbStore;
let ingest: Ingest;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-redelivery-'));
  store = new DuckDbStore(path.join(dir, 'gw.duckdb'));
  await store.start();
  // cluster mode: `take` is fed directly, as a partition's consumer does; MQTT carries presence and watermarks only
  ingest = new Ingest({ url: inject('mqttUrl'), clientId: `rd-${process.pid}`, cluster: true, batchSize: 500, flushIntervalMs: 20, maxPending: 10_000, writeConcurrency: 1 }, { store, live: { publish: () => undefined }, metrics: new Metrics(), log: memoryLog('warn').log, devices: new Map() });
  await ingest.start();
});
afterAll(async () => {
  await ingest?.stop().catch(() => undefined);
  await store?.stop();
  await rm(dir, { recursive: true, force: true });
});

const message = (seqs: number[], from: number, next: number) =>
  Buffer.from(JSON.stringify({ agent: AGENT, from, next, readings: seqs.map((seq) => ({ device: 'rd-m1', ts: Date.now() - 60_000 + seq, seq, v: { ua: 230 }, q: 'good' })) }));

/** takes a message; resolves once it is stored (its JetStream ack) */
const take = (payload: Buffer, redelivered: boolean) => new Promise<void>((resolve) => ingest.take(TOPIC, payload, resolve, redelivered));

describe('cluster ingest, redelivered messages', () => {
  it('a redelivered old message leaves the watermark; a first delivery of an earlier spool restarts it', async () => {
    const first = message([1, 2, 3], 1, 4);
    await take(first, false);
    await take(message([4, 5, 6], 1, 7), false);
    await eventually(() => ingest.watermark(AGENT) === 6, 10_000, 'watermark 6');
    // the first message again, as JetStream redelivers it: stored again, watermark unchanged
    await take(first, true);
    await ingest.drain();
    expect(ingest.watermark(AGENT)).toBe(6);
    await take(message([7], 1, 8), false);
    await eventually(() => ingest.watermark(AGENT) === 7, 10_000, 'watermark 7');
    // a new spool (seqs back at 1) delivered for the first time: the watermark starts again there
    await take(message([1, 2], 1, 3), false);
    await eventually(() => ingest.watermark(AGENT) === 2, 10_000, 'watermark restarted at 2');
  });
});
