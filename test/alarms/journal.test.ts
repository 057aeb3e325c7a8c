/** The alarm journal contract against a real DuckDB file and a real influxd 1.x. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { DuckDbAlarmJournal, InfluxAlarmJournal, type AlarmJournal } from '../../server/alarms/index.ts';
import { DuckDbStore, InfluxStore } from '../../server/index.ts';
import { journalContract } from './journal-contract.ts';

journalContract('duckdb (table in the store file)', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-journal-'));
  const file = path.join(dir, 'gridwatch.duckdb');
  let store = new DuckDbStore(file);
  await store.start();
  const make = (s: DuckDbStore) => new DuckDbAlarmJournal(() => s.connect());
  let journal: AlarmJournal = make(store);
  return {
    journal,
    async reopen() {
      await journal.stop();
      await store.stop();
      store = new DuckDbStore(file);
      await store.start();
      journal = make(store);
      return journal;
    },
    async close() {
      await journal.stop();
      await store.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

let n = 0;
journalContract('influxdb 1.x (measurement alarm_event)', async () => {
  const cfg = { url: inject('influxUrl'), apiVersion: 1 as const, database: `journal_${process.pid}_${n++}`, createDatabase: true, timeoutMs: 10_000 };
  let store = new InfluxStore(cfg);
  await store.start();
  let journal: AlarmJournal = new InfluxAlarmJournal(cfg, store);
  return {
    journal,
    async reopen() {
      await journal.stop();
      await store.stop();
      store = new InfluxStore(cfg);
      await store.start();
      journal = new InfluxAlarmJournal(cfg, store);
      return journal;
    },
    async close() {
      await journal.stop();
      await store.stop();
    },
  };
});
