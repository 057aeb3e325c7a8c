/**
 * Rows written as multi-row INSERTs, a bounded number of rows a statement
 * (one statement per row costs a round trip each; one statement for all of
 * them an unbounded parameter list), all in one transaction: a batch is
 * stored whole or not at all. The journals and the risk history write
 * through it.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { inTransaction } from './duckdb-connection.ts';

export interface ChunkedInsert {
  table: string;
  /** the columns each row's values are for, in order */
  columns: readonly string[];
  /** the statement's tail: `ON CONFLICT (seq) DO NOTHING`, `ON CONFLICT (…) DO UPDATE SET …` */
  onConflict: string;
  /** rows per INSERT statement (default 100) */
  perInsert?: number;
}

/** Inserts `rows` (each the values of `spec.columns`) in one transaction; nothing for no rows. */
export async function insertChunked(conn: DuckDBConnection, spec: ChunkedInsert, rows: readonly (readonly DuckDBValue[])[]): Promise<void> {
  if (rows.length === 0) return;
  const per = Math.max(1, spec.perInsert ?? 100);
  const head = `INSERT INTO ${spec.table} (${spec.columns.join(', ')}) VALUES `;
  const row = `(${spec.columns.map(() => '?').join(', ')})`;
  await inTransaction(conn, async () => {
    for (let i = 0; i < rows.length; i += per) {
      const chunk = rows.slice(i, i + per);
      const params: DuckDBValue[] = [];
      for (const r of chunk) {
        if (r.length !== spec.columns.length) throw new Error(`${spec.table}: a row of ${r.length} values for ${spec.columns.length} columns`);
        for (const v of r) params.push(v);
      }
      await conn.run(`${head}${chunk.map(() => row).join(', ')} ${spec.onConflict}`, params);
    }
  });
}
