/**
 * Embedded store: one DuckDB file under the data directory, so `npm start`
 * on a bare machine keeps history across restarts. Same port and the same
 * contract tests as the InfluxDB store.
 *
 * One wide table (a column per canonical quantity: the set is fixed by the
 * contract), primary key (device, ts). Writes are appended to a staging
 * table and merged with ON CONFLICT … COALESCE so that rewriting a point
 * overwrites only the quantities it carries — InfluxDB's semantics.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { QUANTITY_NAMES, type Quality, type Quantity, type Values } from '../../contract/index.ts';
import { GridwatchError } from '../errors.ts';
import type { CounterWindow, CounterWindowQuery, HistoryQuery, HistorySeries, LineLossQuery, StoredReading, TelemetryStore } from './types.ts';
import { counterWindowDuckDb } from './counters-duckdb.ts';
import { inTransaction, SerialConnection } from './duckdb-connection.ts';
import type { LineLossRecord } from '../energy/types.ts';
import { LINE_LOSS_TABLE_SQL, queryLineLoss, writeLineLoss } from './line-loss-duckdb.ts';

/** DuckDB column for a quantity: `in` is an SQL keyword, so every one is prefixed. */
const col = (q: Quantity) => `v_${q}`;

export class DuckDbStore implements TelemetryStore {
  readonly kind = 'duckdb' as const;
  private instance: DuckDBInstance | null = null;
  /** writes serialised: one staging table, one merge at a time */
  private readonly conn = new SerialConnection({ what: 'duckdb store', unavailable: 'GW_ERR_STORE_UNAVAILABLE', write: 'GW_ERR_STORE_WRITE', read: 'GW_ERR_STORE_QUERY' });

  /** `file` may be ':memory:' for throw-away stores */
  constructor(private readonly file: string) {}

  async start(): Promise<void> {
    if (this.file !== ':memory:') await mkdir(path.dirname(this.file), { recursive: true });
    this.instance = await DuckDBInstance.create(this.file);
    const conn = this.conn.open(await this.instance.connect());
    const cols = [
      'device VARCHAR NOT NULL',
      'ts BIGINT NOT NULL',
      'site VARCHAR NOT NULL',
      'room VARCHAR NOT NULL',
      'transformer VARCHAR NOT NULL',
      'line VARCHAR NOT NULL',
      'q VARCHAR NOT NULL',
      'late BOOLEAN NOT NULL',
      ...QUANTITY_NAMES.map((q) => `${col(q)} DOUBLE`),
    ];
    await conn.run(`CREATE TABLE IF NOT EXISTS reading (${cols.join(', ')}, PRIMARY KEY (device, ts))`);
    // a file from before a quantity joined the contract gets its column (appended last, as the contract appends new quantities)
    for (const q of QUANTITY_NAMES) await conn.run(`ALTER TABLE reading ADD COLUMN IF NOT EXISTS ${col(q)} DOUBLE`);
    await conn.run(`CREATE TEMP TABLE IF NOT EXISTS reading_stage AS SELECT * FROM reading WITH NO DATA`);
    await conn.run(LINE_LOSS_TABLE_SQL);
  }

  /**
   * A new connection to the store's database, for another table in the same
   * file (the alarm journal): a second DuckDBInstance on one file in one
   * process would not see this one's writes. The caller closes it.
   */
  async connect(): Promise<DuckDBConnection> {
    if (!this.instance) throw new GridwatchError('GW_ERR_STORE_UNAVAILABLE', 'duckdb store not started', { retryable: true });
    return this.instance.connect();
  }

  async stop(): Promise<void> {
    const i = this.instance;
    this.instance = null;
    // flush the WAL into the database file so the next start is quick
    await this.conn.close((c) => c.run('CHECKPOINT'));
    i?.closeSync();
  }

  write(readings: readonly StoredReading[]): Promise<void> {
    return this.conn.write((conn) => this.writeNow(conn, readings));
  }

  private async writeNow(conn: DuckDBConnection, readings: readonly StoredReading[]): Promise<void> {
    if (readings.length === 0) return;
    // Merge duplicates of one key inside the batch: ON CONFLICT may not touch a row twice.
    const byKey = new Map<string, StoredReading>();
    for (const r of readings) {
      const key = `${r.ts}\u0000${r.device}`;
      const prev = byKey.get(key);
      byKey.set(key, prev ? { ...r, v: { ...prev.v, ...r.v } } : r);
    }
    const app = await conn.createAppender('reading_stage', 'main', 'temp');
    for (const r of byKey.values()) {
      app.appendVarchar(r.device);
      app.appendBigInt(BigInt(r.ts));
      app.appendVarchar(r.site);
      app.appendVarchar(r.room);
      app.appendVarchar(r.transformer);
      app.appendVarchar(r.line);
      app.appendVarchar(r.q);
      app.appendBoolean(r.late);
      for (const q of QUANTITY_NAMES) {
        const v = r.v[q];
        if (v === undefined) app.appendNull();
        else app.appendDouble(v);
      }
      app.endRow();
    }
    app.closeSync();
    const updates = [
      ...['site', 'room', 'transformer', 'line', 'q', 'late'].map((c) => `${c} = excluded.${c}`),
      ...QUANTITY_NAMES.map((q) => `${col(q)} = COALESCE(excluded.${col(q)}, reading.${col(q)})`),
    ];
    try {
      await inTransaction(conn, () => conn.run(`INSERT INTO reading SELECT * FROM temp.reading_stage ON CONFLICT (device, ts) DO UPDATE SET ${updates.join(', ')}`));
    } finally {
      await conn.run('DELETE FROM temp.reading_stage');
    }
  }

  private toReading(row: Record<string, unknown>): StoredReading {
    const v: Values = {};
    for (const q of QUANTITY_NAMES) {
      const x = row[col(q)];
      if (typeof x === 'number') v[q] = x;
    }
    return {
      site: String(row.site),
      room: String(row.room),
      transformer: String(row.transformer),
      line: String(row.line),
      device: String(row.device),
      ts: Number(row.ts),
      q: row.q as Quality,
      late: row.late === true,
      v,
    };
  }

  private select(sql: string, params: (string | number | bigint)[] = []): Promise<Record<string, unknown>[]> {
    return this.conn.select(sql, params);
  }

  async latest(devices?: readonly string[], notAfter?: number): Promise<StoredReading[]> {
    const conds: string[] = [];
    const params: (string | bigint)[] = [];
    if (devices && devices.length) {
      conds.push(`device IN (${devices.map(() => '?').join(', ')})`);
      params.push(...devices);
    }
    if (notAfter !== undefined) {
      conds.push('ts <= ?');
      params.push(BigInt(Math.floor(notAfter)));
    }
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    const rows = await this.select(`SELECT * FROM reading ${where} QUALIFY row_number() OVER (PARTITION BY device ORDER BY ts DESC) = 1 ORDER BY device`, params);
    return rows.map((r) => this.toReading(r));
  }

  async history(q: HistoryQuery): Promise<HistorySeries[]> {
    if (q.devices.length === 0 || q.quantities.length === 0) return [];
    const devs = q.devices.map(() => '?').join(', ');
    const params: (string | number | bigint)[] = [...q.devices, BigInt(Math.floor(q.from)), BigInt(Math.floor(q.to))];
    let sql: string;
    if (q.stepMs) {
      const step = BigInt(Math.max(1, Math.floor(q.stepMs)));
      // bucket start = k·step − utcOffset, the offset normalised into [0, step)
      const off = ((BigInt(-Math.floor(q.utcOffsetMs ?? 0)) % step) + step) % step;
      const agg = q.aggregate ?? 'mean';
      const fn = (c: string) => (agg === 'mean' ? `avg(${c})` : agg === 'last' ? `arg_max(${c}, ts) FILTER (WHERE ${c} IS NOT NULL)` : `${agg}(${c})`);
      const bucket = `((ts - ${off}) // ${step}) * ${step} + ${off}`;
      sql = `SELECT device, ${bucket} AS ts, ${q.quantities.map((x) => `${fn(col(x))} AS ${col(x)}`).join(', ')}
             FROM reading WHERE device IN (${devs}) AND ts >= ? AND ts < ? GROUP BY device, ${bucket} ORDER BY device, ts`;
    } else {
      sql = `SELECT device, ts, ${q.quantities.map(col).join(', ')} FROM reading WHERE device IN (${devs}) AND ts >= ? AND ts < ? ORDER BY device, ts`;
    }
    const rows = await this.select(sql, params);
    const series = new Map<string, HistorySeries>();
    for (const row of rows) {
      for (const quantity of q.quantities) {
        const val = row[col(quantity)];
        if (typeof val !== 'number') continue;
        const device = String(row.device);
        const key = `${device}\u0000${quantity}`;
        let s = series.get(key);
        if (!s) series.set(key, (s = { device, quantity, ts: [], values: [] }));
        s.ts.push(Number(row.ts));
        s.values.push(val);
      }
    }
    return [...series.values()];
  }

  /** The energy counters of a window, every device in one query (server/store/counters-duckdb.ts). */
  counterWindow(q: CounterWindowQuery): Promise<CounterWindow> {
    return counterWindowDuckDb(this.conn, q);
  }

  writeLineLoss(records: readonly LineLossRecord[]): Promise<void> {
    return writeLineLoss(this.conn, records);
  }

  lineLoss(q: LineLossQuery): Promise<LineLossRecord[]> {
    return queryLineLoss(this.conn, q);
  }

  async ping(): Promise<boolean> {
    return this.conn.isOpen;
  }
}
