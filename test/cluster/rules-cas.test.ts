/**
 * The compare-and-set a cluster's rules changes are written with, on the
 * test's 3-node NATS cluster (a bucket with 3 replicas): of many writes made
 * at once on the same revision exactly one is stored, the others are refused
 * with "wrong last sequence", and the stored history has no revision twice
 * on one base. (A key's expected sequence alone does not hold on a clustered
 * stream of nats-server before 2.9.21: two writes at once could both pass.)
 */
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsCluster } from '../harness/index.ts';
import { compareAndSet } from '../../server/cluster/rules-sync.ts';

let cluster: NatsCluster;
const conns: NatsConnection[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster();
  await cluster.ready();
  // one connection per node: the writes reach the stream's leader from different servers, as from different gridwatch servers
  for (const url of cluster.natsUrls) conns.push(await connect({ servers: url }));
}, 60_000);
afterAll(async () => {
  for (const nc of conns) await nc.close().catch(() => undefined);
  await cluster?.stop();
});

describe('rules compare-and-set on a clustered bucket', () => {
  it('of writes made at once on the same revision, one is stored and the rest refused, round after round', async () => {
    const kv = await conns[0]!.jetstream().views.kv('rulescas_test', { history: 64, replicas: 3 });
    let base = await kv.put('document', new TextEncoder().encode('{"round":0}'));
    for (let round = 1; round <= 10; round++) {
      const writes = Array.from({ length: 8 }, (_, i) =>
        compareAndSet(conns[i % conns.length]!, 'rulescas_test', 'document', new TextEncoder().encode(JSON.stringify({ round, writer: i })), base).then(
          (seq) => ({ ok: true as const, seq }),
          (err: unknown) => ({ ok: false as const, err: String((err as Error)?.message ?? err) }),
        ),
      );
      const results = await Promise.all(writes);
      const stored = results.filter((r) => r.ok);
      expect(stored, `round ${round}`).toHaveLength(1);
      for (const r of results) if (!r.ok) expect(r.err).toMatch(/wrong last sequence|last sequence mismatch/i);
      const latest = await kv.get('document');
      expect(latest!.revision).toBe((stored[0] as { seq: number }).seq);
      expect(latest!.revision).toBe(base + 1);
      base = latest!.revision;
    }
  }, 60_000);
});
