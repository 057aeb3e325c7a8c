/**
 * Live values shared between cluster servers over core NATS (a real 3-node
 * NATS cluster): the other server's hub gets each frame; the sender gets none
 * of its own back (its connection receives the others' frames only: before,
 * every frame came back to its sender and was decoded there to be dropped); a
 * server alone among the members sends nothing; late readings are not sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveShare } from '../../server/cluster/live-share.ts';
import type { StoredReading } from '../../server/store/types.ts';
import { startNatsCluster, type NatsCluster } from '../harness/index.ts';
import { testLog } from '../support/logger.ts';
import { until } from './support.ts';

const reading = (device: string, ts: number): StoredReading => ({ site: 's1', room: 'r1', transformer: 't1', line: 'l1', device, ts, q: 'good', late: false, v: { ua: 230.1, p: 12.5 } });

describe('cluster live share', () => {
  let nats: NatsCluster;
  const shares: LiveShare[] = [];
  beforeAll(async () => {
    nats = await startNatsCluster({ partitions: 1 });
  }, 60_000);
  afterAll(async () => {
    for (const s of shares) await s.stop();
    await nats?.stop();
  });

  it('sends each message to the other servers only, and nothing while alone', async () => {
    let members: string[] = ['gw-a'];
    const got: Record<string, StoredReading[]> = { 'gw-a': [], 'gw-b': [] };
    const make = (id: string) => {
      const s = new LiveShare(id, { log: testLog, live: { publish: (r) => got[id]!.push(...r) }, members: () => members });
      shares.push(s);
      return s;
    };
    const a = make('gw-a');
    const b = make('gw-b');
    const opts = { servers: nats.natsUrls, name: 'gridwatch-test' };
    await a.start({ ...opts, name: 'gridwatch-gw-a' });
    await b.start({ ...opts, name: 'gridwatch-gw-b' });

    // alone: nothing leaves the server
    for (let i = 0; i < 5; i++) a.publish([reading('m1', 1000 + i)]);
    expect(a.sent).toBe(0);

    members = ['gw-a', 'gw-b'];
    for (let i = 0; i < 5; i++) a.publish([reading('m1', 2000 + i), reading('m2', 2000 + i)]);
    b.publish([reading('m9', 3000)]);
    // backfill is not live anywhere: a late reading is left out, a message of late readings only is not sent
    b.publish([{ ...reading('m8', 100), late: true }]);
    b.publish([{ ...reading('m8', 101), late: true }, reading('m9', 3001)]);
    await until(() => [...(got['gw-b']!.length === 10 ? [] : [`gw-b has ${got['gw-b']!.length} of 10`]), ...(got['gw-a']!.length === 2 ? [] : [`gw-a has ${got['gw-a']!.length} of 2`])], 10_000, 'live values at the other server');
    expect(got['gw-b']!.map((r) => `${r.device}@${r.ts}`)).toEqual([0, 1, 2, 3, 4].flatMap((i) => [`m1@${2000 + i}`, `m2@${2000 + i}`]));
    expect(got['gw-b']![0]).toEqual(reading('m1', 2000));
    expect(got['gw-a']!.map((r) => `${r.device}@${r.ts}`)).toEqual(['m9@3000', 'm9@3001']);
    // round trip on each connection: anything echoed would have arrived before the flush's answer
    await a.flush();
    await b.flush();
    expect(a.stats().inMsgs).toBe(2);
    expect(b.stats().inMsgs).toBe(5);
    expect(a.sent).toBe(5);
    expect(a.received).toBe(2);
    expect(b.sent).toBe(2);
  }, 30_000);
});
