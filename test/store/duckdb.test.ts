import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckDbStore } from '../../server/index.ts';
import { storeContract } from './store-contract.ts';

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
});
