/**
 * History of the stations' risk days (docs/risk.md, History): one record per
 * station and day, the latest computation of the day replacing the earlier
 * one. Kept in the readings' store so it survives a restart and is shared by
 * the servers of a cluster: the DuckDB table / InfluxDB measurement
 * `risk_day`. A record holds the day as served on the wire and the
 * hysteresis state it leaves for the next day.
 */
import { Point } from '@influxdata/influxdb-client';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { StationRiskDay } from '../../contract/risk.ts';
import { SerialConnection } from '../store/duckdb-connection.ts';
import { insertChunked, type ChunkedInsert } from '../store/duckdb-insert.ts';
import { encodeTagValue, influxString } from '../store/influx.ts';
import { InfluxJournalBase, type InfluxQuery, type InfluxSeriesRows } from '../store/influx-journal.ts';
import type { HysteresisState } from './score.ts';

export interface RiskRecord {
  day: StationRiskDay;
  /** what this day passes to the next (null: no code yet) */
  state: HysteresisState | null;
}

export interface RiskHistory {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stores the records; a station's day already stored is replaced unless the stored one was computed later. */
  put(records: readonly RiskRecord[]): Promise<void>;
  /** Records with `from ≤ day ≤ to`, of one station or all, ordered by station and day. */
  read(q: { from: string; to: string; station?: string }): Promise<RiskRecord[]>;
  /** The latest day with any record at or before `notAfter`, or null. */
  lastDay(notAfter: string): Promise<string | null>;
}

export const RISK_MEASUREMENT = 'risk_day';

const CODES = { what: 'risk history', unavailable: 'GW_ERR_JOURNAL_UNAVAILABLE', write: 'GW_ERR_JOURNAL_WRITE', read: 'GW_ERR_JOURNAL_READ' } as const;

const INSERT: ChunkedInsert = {
  table: 'risk_day',
  columns: ['station', 'day', 'computed_at', 'data'],
  onConflict: 'ON CONFLICT (station, day) DO UPDATE SET computed_at = excluded.computed_at, data = excluded.data WHERE excluded.computed_at >= risk_day.computed_at',
};

function encode(r: RiskRecord): string {
  return JSON.stringify({ day: r.day, state: r.state });
}

function decode(s: string): RiskRecord {
  const o = JSON.parse(s) as RiskRecord;
  return { day: o.day, state: o.state ?? null };
}

export class DuckDbRiskHistory implements RiskHistory {
  private readonly conn = new SerialConnection(CODES);
  constructor(private readonly connect: () => Promise<DuckDBConnection>) {}

  async start(): Promise<void> {
    const conn = this.conn.open(await this.connect());
    await conn.run('CREATE TABLE IF NOT EXISTS risk_day (station VARCHAR NOT NULL, day VARCHAR NOT NULL, computed_at BIGINT NOT NULL, data VARCHAR NOT NULL, PRIMARY KEY (station, day))');
  }

  async stop(): Promise<void> {
    await this.conn.close();
  }

  put(records: readonly RiskRecord[]): Promise<void> {
    return this.conn.write((conn) => insertChunked(conn, INSERT, records.map((r) => [r.day.station, r.day.day, BigInt(Math.round(r.day.computedAt)), encode(r)])));
  }

  async read(q: { from: string; to: string; station?: string }): Promise<RiskRecord[]> {
    const rows = q.station === undefined
      ? await this.conn.select('SELECT data FROM risk_day WHERE day >= ? AND day <= ? ORDER BY station, day', [q.from, q.to])
      : await this.conn.select('SELECT data FROM risk_day WHERE station = ? AND day >= ? AND day <= ? ORDER BY day', [q.station, q.from, q.to]);
    return rows.map((r) => decode(String(r.data)));
  }

  async lastDay(notAfter: string): Promise<string | null> {
    const rows = await this.conn.select('SELECT max(day) AS d FROM risk_day WHERE day <= ?', [notAfter]);
    const d = rows[0]?.d;
    return typeof d === 'string' ? d : null;
  }
}

/**
 * InfluxDB: tag `station`, fields `day`, `computedAt`, `data` (the record as
 * JSON); the timestamp is the day's UTC midnight, so a station's day is one
 * point key and a later write of it replaces the earlier one.
 */
export class InfluxRiskHistory extends InfluxJournalBase implements RiskHistory {
  constructor(query: InfluxQuery) {
    super(query, CODES);
  }

  async put(records: readonly RiskRecord[]): Promise<void> {
    // of two records of one station and day in a batch the later computation is written last, so it wins
    const sorted = [...records].sort((a, b) => a.day.computedAt - b.day.computedAt);
    const lines = sorted.map((r) => {
      const p = new Point(RISK_MEASUREMENT).tag('station', encodeTagValue(r.day.station)).stringField('day', r.day.day).intField('computedAt', Math.round(r.day.computedAt)).stringField('data', encode(r));
      p.timestamp(`${BigInt(Date.parse(`${r.day.day}T00:00:00Z`)) * 1_000_000n}`);
      return p.toLineProtocol()!;
    });
    await this.io.write(lines);
  }

  async read(q: { from: string; to: string; station?: string }): Promise<RiskRecord[]> {
    const where = [`time >= ${Date.parse(`${q.from}T00:00:00Z`)}ms`, `time <= ${Date.parse(`${q.to}T00:00:00Z`)}ms`];
    if (q.station !== undefined) where.push(`"station" = ${influxString(encodeTagValue(q.station))}`);
    const series = await this.run(`SELECT "data" FROM ${RISK_MEASUREMENT} WHERE ${where.join(' AND ')} GROUP BY "station"`);
    const out: RiskRecord[] = [];
    for (const s of series)
      for (const row of s.values) out.push(decode(String(row[s.columns.indexOf('data')])));
    return out.sort((a, b) => (a.day.station < b.day.station ? -1 : a.day.station > b.day.station ? 1 : a.day.day < b.day.day ? -1 : a.day.day > b.day.day ? 1 : 0));
  }

  async lastDay(notAfter: string): Promise<string | null> {
    const series = await this.run(`SELECT last("day") FROM ${RISK_MEASUREMENT} WHERE time <= ${Date.parse(`${notAfter}T00:00:00Z`)}ms`);
    const v = series[0]?.values[0]?.[1];
    return typeof v === 'string' ? v : null;
  }

  private run(sql: string): Promise<InfluxSeriesRows> {
    this.io.assertOpen();
    return this.io.select(sql);
  }
}
