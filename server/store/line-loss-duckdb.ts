/**
 * The `line_loss` measurement in the embedded store: one row per (site,
 * transformer, interval, start), the figure as JSON beside its key columns.
 * Writing a key again replaces the figure (a recomputation).
 */
import type { LineLossRecord } from '../energy/types.ts';
import type { SerialConnection } from './duckdb-connection.ts';
import { inTransaction } from './duckdb-connection.ts';
import type { LineLossQuery } from './types.ts';

export const LINE_LOSS_TABLE_SQL =
  'CREATE TABLE IF NOT EXISTS line_loss (site VARCHAR NOT NULL, transformer VARCHAR NOT NULL, "interval" VARCHAR NOT NULL, start BIGINT NOT NULL, complete BOOLEAN NOT NULL, loss_pct DOUBLE, doc VARCHAR NOT NULL, PRIMARY KEY (site, transformer, "interval", start))';

export function writeLineLoss(conn: SerialConnection, records: readonly LineLossRecord[]): Promise<void> {
  if (records.length === 0) return Promise.resolve();
  return conn.write(async (c) => {
    await inTransaction(c, async () => {
      for (let i = 0; i < records.length; i += 500) {
        const chunk = records.slice(i, i + 500);
        const params: (string | bigint | boolean | number | null)[] = [];
        for (const r of chunk) params.push(r.site, r.transformer, r.interval, BigInt(r.start), r.complete, r.lossPct, JSON.stringify(r));
        await c.run(
          `INSERT INTO line_loss VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}
           ON CONFLICT (site, transformer, "interval", start) DO UPDATE SET complete = excluded.complete, loss_pct = excluded.loss_pct, doc = excluded.doc`,
          params,
        );
      }
    });
  });
}

export async function queryLineLoss(conn: SerialConnection, q: LineLossQuery): Promise<LineLossRecord[]> {
  const conds = ['"interval" = ?', 'start >= ?', 'start < ?'];
  const params: (string | bigint)[] = [q.interval, BigInt(Math.floor(q.from)), BigInt(Math.floor(q.to))];
  if (q.sites?.length) {
    conds.push(`site IN (${q.sites.map(() => '?').join(', ')})`);
    params.push(...q.sites);
  }
  if (q.transformer !== undefined) {
    conds.push('transformer = ?');
    params.push(q.transformer);
  }
  const rows = await conn.select(`SELECT doc FROM line_loss WHERE ${conds.join(' AND ')} ORDER BY site, transformer, start`, params);
  return rows.map((r) => JSON.parse(String(r.doc)) as LineLossRecord);
}
