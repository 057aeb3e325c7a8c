/** The alarm journal contract against a real DuckDB file and a real influxd 1.x. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { DuckDbAlarmJournal, InfluxAlarmJournal, type AlarmJournal } from '../../server/alarms/index.ts';
import type { InfluxConfig } from '../../server/config.ts';
import { GridwatchError } from '../../server/errors.ts';
import { DuckDbStore, InfluxStore } from '../../server/index.ts';
import { journalContract, transition } from './journal-contract.ts';

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
  let journal: AlarmJournal = new InfluxAlarmJournal(store);
  return {
    journal,
    async reopen() {
      await journal.stop();
      await store.stop();
      store = new InfluxStore(cfg);
      await store.start();
      journal = new InfluxAlarmJournal(store);
      return journal;
    },
    async close() {
      await journal.stop();
      await store.stop();
    },
  };
});

describe('influxdb journal writes that fail', () => {
  const entry = transition(1);

  async function openJournal(cfg: InfluxConfig): Promise<InfluxAlarmJournal> {
    const store = new InfluxStore(cfg);
    await store.start();
    const journal = new InfluxAlarmJournal(store);
    await journal.start();
    return journal;
  }

  /** what appending `entry` rejects with (null: it did not) */
  async function appendError(cfg: InfluxConfig): Promise<unknown> {
    const journal = await openJournal(cfg);
    return journal.append([entry]).then(
      () => null,
      (e: unknown) => e,
    );
  }

  it('no InfluxDB listening: a retryable GW_ERR_JOURNAL_WRITE (the service keeps the entries and tries again)', async () => {
    // a port nothing listens on: bound, its number taken, closed
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const err = await appendError({ url: `http://127.0.0.1:${port}`, apiVersion: 1, database: 'nowhere', createDatabase: false, timeoutMs: 2000 });
    expect(err).toBeInstanceOf(GridwatchError);
    expect(err).toMatchObject({ code: 'GW_ERR_JOURNAL_WRITE', retryable: true });
  });

  it('InfluxDB refuses the write (no such database, 404): not retryable, and the status is in the message', async () => {
    const err = await appendError({ url: inject('influxUrl'), apiVersion: 1, database: `absent_${process.pid}`, createDatabase: false, timeoutMs: 10_000 });
    expect(err).toMatchObject({ code: 'GW_ERR_JOURNAL_WRITE', retryable: false });
    expect((err as Error).message).toMatch(/\(404\).*database not found/);
  });

  it('an entry is written at ns precision: read back with its own `at`, not a millisecond count taken for nanoseconds', async () => {
    const journal = await openJournal({ url: inject('influxUrl'), apiVersion: 1, database: `journal_ns_${process.pid}`, createDatabase: true, timeoutMs: 10_000 });
    await journal.append([entry]);
    const [back] = await journal.read({ from: entry.at, to: entry.at + 1 });
    expect(back).toMatchObject({ seq: 1, at: entry.at, alarmId: entry.alarmId });
  });
});
