/**
 * The KV lease both the partition leases and the risk singleton hold, on the
 * test NATS cluster (JetStream): one holder at a time, a renewal at our
 * revision, a lapsed lease taken by another holder is lost to the first (its
 * renewal and its late give-back leave the new holder's entry alone), and a
 * give-back lets the next holder in at once. The holders' rounds never
 * overlap, and stopping them waits for the one running.
 */
import { connect, type KV, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsCluster } from '../harness/index.ts';
import { KvLease, leaseHolder, Rounds } from '../../server/cluster/kv-lease.ts';
import { sleep, until } from './support.ts';

const TTL_MS = 1500;
let cluster: NatsCluster;
let nc: NatsConnection;
let kv: KV;

beforeAll(async () => {
  cluster = await startNatsCluster();
  await cluster.ready();
  nc = await connect({ servers: cluster.natsUrls });
  kv = await nc.jetstream().views.kv('kvlease_test', { ttl: TTL_MS, history: 1 });
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

describe('KvLease', () => {
  it('one holder at a time; renewed at its revision; given back, the next takes it at once', async () => {
    const a = new KvLease(kv, 'one', 'A');
    const b = new KvLease(kv, 'one', 'B');
    expect(await a.take()).toBe(true);
    expect(await b.take()).toBe(false);
    expect(b.held).toBe(false);
    expect(await leaseHolder(kv, 'one')).toBe('A');
    expect(await a.renew()).toEqual({ kind: 'renewed' });
    expect(await a.renew()).toEqual({ kind: 'renewed' });
    expect(await b.renew()).toEqual({ kind: 'not-held' });
    await a.release();
    expect(a.held).toBe(false);
    expect(await leaseHolder(kv, 'one')).toBe(null);
    expect(await b.take()).toBe(true);
    expect(await leaseHolder(kv, 'one')).toBe('B');
    await b.release();
  });

  it('lapsed and taken by another: the first one\'s renewal says lost, and nothing it does touches the new entry', async () => {
    const a = new KvLease(kv, 'two', 'A');
    const b = new KvLease(kv, 'two', 'B');
    expect(await a.take()).toBe(true);
    // not renewed: the entry lapses after the TTL, then B creates it
    await until(async () => ((await b.take()) ? [] : ['B has not taken it yet']), 15_000, 'lapse');
    expect(await leaseHolder(kv, 'two')).toBe('B');
    const r = await a.renew();
    expect(r.kind).toBe('lost');
    expect(a.held).toBe(false);
    // a give-back after the loss deletes nothing; one from a stale revision is refused by the bucket
    await a.release();
    const stale = new KvLease(kv, 'two', 'A');
    (stale as unknown as { rev: number }).rev = 1;
    await expect(stale.release()).rejects.toThrow();
    expect(await leaseHolder(kv, 'two')).toBe('B');
    expect(await b.renew()).toEqual({ kind: 'renewed' });
    await b.release();
  });

  it('a renewal racing a give-back leaves the lease given back', async () => {
    const a = new KvLease(kv, 'three', 'A');
    expect(await a.take()).toBe(true);
    const renewing = a.renew();
    await a.release().catch(() => undefined);
    const r = await renewing;
    expect(r.kind).not.toBe('renewed');
    expect(a.held).toBe(false);
  });
});

describe('Rounds', () => {
  it('never runs two rounds at once; stop waits for the one running and ends them', async () => {
    let running = 0;
    let most = 0;
    let n = 0;
    const r = new Rounds(async () => {
      running++;
      most = Math.max(most, running);
      n++;
      await sleep(120);
      running--;
    }, 20);
    r.start();
    await until(async () => (n >= 3 ? [] : ['fewer than 3 rounds']), 10_000, 'rounds');
    await r.stop();
    expect(running).toBe(0);
    const after = n;
    await sleep(150);
    expect(n).toBe(after);
    expect(most).toBe(1);
  });
});
