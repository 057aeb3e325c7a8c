/**
 * The alarm frames of one input leave together (alarm latency): the
 * transitions one message causes are written to each WebSocket client in one
 * write when its evaluation ends, instead of one system call each. Nothing is
 * held past the message: every frame still arrives, in seq order, with its
 * `prevSeq`. Real server (in this process), real broker, real WebSocket
 * client; the writes are counted on the server's end of the connection.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { alarmClient, Feed, hotRule, oneRoomTopology, startAlarmServer, testRules, type AlarmTestServer } from './helpers.ts';
import { eventually, type RecordingClient } from '../support/ws-client.ts';

const SITE = 'al-batch';
const METERS = Array.from({ length: 12 }, (_, i) => `batch-m${i + 1}`);

let ts: AlarmTestServer;
let feed: Feed;
let client: RecordingClient;
/** writes the server made to our client's connection since the last reset */
let writes = 0;
const realWrite = (net.Socket.prototype as unknown as { _writeGeneric: (...a: unknown[]) => unknown })._writeGeneric;

beforeAll(async () => {
  ts = await startAlarmServer({
    mqttUrl: inject('mqttUrl'),
    topologyYaml: oneRoomTopology({ site: SITE, name: 'Batch', meters: METERS, agent: 'al-batch-agent' }),
    rulesYaml: testRules(hotRule('batch-hot')),
  });
  feed = await Feed.open(inject('mqttUrl'), SITE, 'al-batch-agent');
  client = await alarmClient(ts);
  const port = (client.ws as unknown as { _socket: net.Socket })._socket.localPort;
  // Node's one path to the system call for both write and writev
  (net.Socket.prototype as unknown as { _writeGeneric: (...a: unknown[]) => unknown })._writeGeneric = function (this: net.Socket, ...a: unknown[]) {
    if (this.remotePort === port) writes++;
    return realWrite.apply(this, a);
  };
});
afterAll(async () => {
  (net.Socket.prototype as unknown as { _writeGeneric: unknown })._writeGeneric = realWrite;
  await client?.close();
  await feed?.close();
  await ts?.close();
});

describe('alarm frames of one message', () => {
  it('arrive complete and in order, in one write per client', async () => {
    const ts0 = Date.now();
    await new Promise((r) => setTimeout(r, 300)); // past the snapshot's and any live frame's writes
    writes = 0;
    // one message: every meter over the limit → one raise each
    await feed.publish(METERS.map((device) => ({ device, ts: ts0, v: { temp: 95 } })));
    await eventually(() => expect(client.frames.filter((f) => f.type === 'alarm')).toHaveLength(METERS.length));
    const frames = client.frames.filter((f) => f.type === 'alarm');
    expect(new Set(frames.map((f) => f.transition.source))).toEqual(new Set(METERS));
    expect(frames.every((f) => f.transition.reason === 'raise')).toBe(true);
    // gapless, in order, each naming the frame before it
    for (let i = 1; i < frames.length; i++) {
      expect(frames[i].seq).toBe(frames[i - 1].seq + 1);
      expect(frames[i].prevSeq).toBe(frames[i - 1].seq);
    }
    // the twelve frames were one write (live-value frames, at most one, go on their own timer)
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(2);
    writes = 0;

    // the clears of the next message too
    await feed.publish(METERS.map((device) => ({ device, ts: ts0 + 1000, v: { temp: 20 } })));
    await eventually(() => expect(client.frames.filter((f) => f.type === 'alarm')).toHaveLength(2 * METERS.length));
    const clears = client.frames.filter((f) => f.type === 'alarm').slice(METERS.length);
    expect(clears.every((f) => f.transition.reason !== 'raise')).toBe(true);
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(2);
  });
});
