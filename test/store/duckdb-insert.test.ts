import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { insertChunked, type ChunkedInsert } from '../../server/store/duckdb-insert.ts';

let instance: DuckDBInstance;
let conn: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
});
afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

async function rows(table: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(`SELECT * FROM ${table} ORDER BY 1`)).getRowObjectsJS() as Record<string, unknown>[];
}

describe('insertChunked', () => {
  const keep: ChunkedInsert = { table: 'ev', columns: ['seq', 'what'], onConflict: 'ON CONFLICT (seq) DO NOTHING', perInsert: 7 };

  it('stores every row across statement boundaries; a row whose key is stored is passed over', async () => {
    await conn.run('CREATE TABLE ev (seq BIGINT PRIMARY KEY, what VARCHAR NOT NULL)');
    const batch = Array.from({ length: 30 }, (_, i) => [BigInt(i + 1), `e${i + 1}`]);
    await insertChunked(conn, keep, batch);
    // a retried batch overlapping the first: only the new rows land, the stored ones keep their values
    await insertChunked(conn, keep, [[25n, 'changed'], [31n, 'e31'], [32n, 'text, with "quotes"\n中文']]);
    const got = await rows('ev');
    expect(got).toHaveLength(32);
    expect(got.map((r) => Number(r.seq))).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    expect(got[24]!.what).toBe('e25');
    expect(got[31]!.what).toBe('text, with "quotes"\n中文');
  });

  it('no rows: no statement and no transaction', async () => {
    await insertChunked(conn, { ...keep, table: 'no_such_table' }, []);
  });

  it('a batch with a bad row stores nothing of the batch (one transaction), and says which table', async () => {
    const before = (await rows('ev')).length;
    const batch: (bigint | string)[][] = Array.from({ length: 20 }, (_, i) => [BigInt(100 + i), `b${i}`]);
    batch.push([200n]);
    await expect(insertChunked(conn, keep, batch)).rejects.toThrow(/ev: a row of 1 values for 2 columns/);
    // a row the database refuses (NULL in a NOT NULL column) after two statements went through: rolled back as well
    const refused: (bigint | string | null)[][] = Array.from({ length: 20 }, (_, i) => [BigInt(300 + i), `c${i}`]);
    refused.push([400n, null]);
    await expect(insertChunked(conn, keep, refused)).rejects.toThrow();
    expect((await rows('ev')).length).toBe(before);
  });

  it('ON CONFLICT … DO UPDATE with a condition: the later computation wins, an earlier one is ignored', async () => {
    await conn.run('CREATE TABLE day (station VARCHAR, day VARCHAR, computed_at BIGINT, data VARCHAR, PRIMARY KEY (station, day))');
    const spec: ChunkedInsert = {
      table: 'day',
      columns: ['station', 'day', 'computed_at', 'data'],
      onConflict: 'ON CONFLICT (station, day) DO UPDATE SET computed_at = excluded.computed_at, data = excluded.data WHERE excluded.computed_at >= day.computed_at',
    };
    await insertChunked(conn, spec, [['s1', '2026-01-01', 10n, 'first']]);
    await insertChunked(conn, spec, [['s1', '2026-01-01', 5n, 'older']]);
    expect((await rows('day'))[0]!.data).toBe('first');
    await insertChunked(conn, spec, [['s1', '2026-01-01', 20n, 'later']]);
    expect((await rows('day'))[0]!.data).toBe('later');
  });
});
