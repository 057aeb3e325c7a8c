import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbStore } from '../../server/index.ts';
import { storeContract } from './store-contract.ts';
import { lineLossContract } from './line-loss-contract.ts';
import { QUANTITY_NAMES } from '../../contract/index.ts';

/** the quantity that joined the contract last: a file of the version before it has no column for it */
const NEWEST = QUANTITY_NAMES[QUANTITY_NAMES.length - 1]!;

const dirs: string[] = [];
async function freshFile(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'gw-duck-'));
  dirs.push(d);
  return path.join(d, 'store.duckdb');
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

storeContract('duckdb', async () => new DuckDbStore(await freshFile()));
lineLossContract('duckdb', async () => new DuckDbStore(await freshFile()));

describe('DuckDbStore durability', () => {
  it('keeps history across a restart (same file)', async () => {
    const file = await freshFile();
    const a = new DuckDbStore(file);
    await a.start();
    await a.write([{ site: 's', room: '', transformer: '', line: '', device: 'd', ts: Date.UTC(2026, 0, 1), q: 'good', late: false, v: { ua: 231 } }]);
    await a.stop();
    const b = new DuckDbStore(file);
    await b.start();
    const latest = await b.latest();
    await b.stop();
    expect(latest).toHaveLength(1);
    expect(latest[0]!.v.ua).toBe(231);
  });

  it('opens a file written before a quantity joined the contract and stores that quantity', async () => {
    const file = await freshFile();
    const a = new DuckDbStore(file);
    await a.start();
    await a.write([{ site: 's', room: '', transformer: '', line: '', device: 'd', ts: Date.UTC(2026, 0, 1), q: 'good', late: false, v: { ua: 231 } }]);
    await a.stop();
    // the file as an older version left it: no column for the newest quantity
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    await c.run(`ALTER TABLE reading DROP COLUMN v_${NEWEST}`);
    c.closeSync();
    db.closeSync();
    const b = new DuckDbStore(file);
    await b.start();
    await b.write([{ site: 's', room: '', transformer: '', line: '', device: 'a.spool', ts: Date.UTC(2026, 0, 2), q: 'good', late: false, v: { [NEWEST]: 42 } }]);
    const latest = await b.latest();
    await b.stop();
    expect(latest.find((r) => r.device === 'd')!.v).toEqual({ ua: 231 });
    expect(latest.find((r) => r.device === 'a.spool')!.v).toEqual({ [NEWEST]: 42 });
  });
});
