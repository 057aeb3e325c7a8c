/** The outage pool's journal, one contract against a real DuckDB file and a real influxd 1.x. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DuckDbStore, InfluxStore } from '../../server/index.ts';
import { DuckDbPoolJournal, InfluxPoolJournal, type PoolEntry, type PoolJournal } from '../../server/outages/journal.ts';

interface Rig {
  journal: PoolJournal;
  reopen(): Promise<PoolJournal>;
  close(): Promise<void>;
}

const entry = (seq: number, kind: PoolEntry['kind'], id: string, what: string, data: unknown, at = 1_700_000_000_000 + seq): PoolEntry => ({ seq, at, kind, id, what, by: seq % 2 ? 'system' : 'operator', data });

function contract(name: string, make: () => Promise<Rig>): void {
  describe(`outage journal: ${name}`, () => {
    let rig: Rig;
    beforeAll(async () => {
      rig = await make();
    }, 30_000);
    afterAll(async () => rig?.close());

    it('appends, reads the last entry per entity and an entity\'s timeline in seq order, survives a reopen; a retried batch adds nothing', async () => {
      const j = rig.journal;
      expect(await j.lastSeq()).toBe(0);
      const batch = [
        entry(1, 'plan', 'P1', 'created', { id: 'P1', state: 'draft', reason: '检修, "quoted"\nline' }),
        entry(2, 'outage', 'O1', 'transformer outage', { id: 'O1', state: 'active' }),
        // same millisecond as the next: two points all the same
        entry(3, 'plan', 'P1', 'confirmed', { id: 'P1', state: 'confirmed' }, 1_700_000_000_100),
        entry(4, 'plan', 'P1', 'notified', { id: 'P1', state: 'notified' }, 1_700_000_000_100),
        entry(5, 'outage', 'site/with space,comma=x', 'odd id', { id: 'site/with space,comma=x' }),
      ];
      await j.append(batch);
      await j.append(batch.slice(2));
      expect(await j.lastSeq()).toBe(5);
      const cur = await j.readCurrent();
      expect(cur.map((e) => `${e.seq} ${e.kind} ${e.id}`)).toEqual(['2 outage O1', '4 plan P1', '5 outage site/with space,comma=x']);
      expect(cur[1]).toEqual(batch[3]);
      const again = await rig.reopen();
      expect((await again.timeline('plan', 'P1')).map((e) => [e.seq, e.what, e.by, (e.data as { state: string }).state])).toEqual([
        [1, 'created', 'system', 'draft'],
        [3, 'confirmed', 'system', 'confirmed'],
        [4, 'notified', 'operator', 'notified'],
      ]);
      expect(((await again.timeline('plan', 'P1'))[0]!.data as { reason: string }).reason).toBe('检修, "quoted"\nline');
      expect(await again.timeline('ticket', 'T1')).toEqual([]);
    });
  });
}

contract('duckdb (table outage_event in the store file)', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-outage-journal-'));
  const file = path.join(dir, 'gridwatch.duckdb');
  let store = new DuckDbStore(file);
  await store.start();
  let journal: PoolJournal = new DuckDbPoolJournal(() => store.connect());
  await journal.start();
  return {
    journal,
    async reopen() {
      await journal.stop();
      await store.stop();
      store = new DuckDbStore(file);
      await store.start();
      journal = new DuckDbPoolJournal(() => store.connect());
      await journal.start();
      return journal;
    },
    async close() {
      await journal.stop();
      await store.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

contract('influxdb 1.x (measurement outage_event)', async () => {
  const cfg = { url: inject('influxUrl'), apiVersion: 1 as const, database: `outage_journal_${process.pid}`, createDatabase: true, timeoutMs: 10_000 };
  let store = new InfluxStore(cfg);
  await store.start();
  let journal: PoolJournal = new InfluxPoolJournal(store);
  await journal.start();
  return {
    journal,
    async reopen() {
      await journal.stop();
      await store.stop();
      store = new InfluxStore(cfg);
      await store.start();
      journal = new InfluxPoolJournal(store);
      await journal.start();
      return journal;
    },
    async close() {
      await journal.stop();
      await store.stop();
    },
  };
});
