/**
 * History of the stations' risk days (docs/risk.md, History): one record per
 * station and day, the latest computation of the day replacing the earlier
 * one. Kept in the readings' store so it survives a restart and is shared by
 * the servers of a cluster: the DuckDB table / InfluxDB measurement
 * `risk_day`. A record holds the day as served on the wire and the
 * hysteresis state it leaves for the next day.
 */
import { Point } from '@influxdata/influxdb-client';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { StationRiskDay } from '../../contract/risk.ts';
import { GridwatchError } from '../errors.ts';
import { inTransaction, SerialConnection } from '../store/duckdb-connection.ts';
import { encodeTagValue, influxString } from '../store/influx.ts';
import type { InfluxQuery } from '../alarms/journal-influx.ts';
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
    return this.conn.write(async (conn) => {
      if (records.length === 0) return;
      await inTransaction(conn, async () => {
        for (let i = 0; i < records.length; i += 100) {
          const chunk = records.slice(i, i + 100);
          const params: DuckDBValue[] = chunk.flatMap((r) => [r.day.station, r.day.day, BigInt(Math.round(r.day.computedAt)), encode(r)]);
          await conn.run(
            `INSERT INTO risk_day VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')} ON CONFLICT (station, day) DO UPDATE SET computed_at = excluded.computed_at, data = excluded.data WHERE excluded.computed_at >= risk_day.computed_at`,
            params,
          );
        }
      });
    });
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
export class InfluxRiskHistory implements RiskHistory {
  private started = false;
  constructor(private readonly query: InfluxQuery) {}

  async start(): Promise<void> {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
  }

  async put(records: readonly RiskRecord[]): Promise<void> {
    if (!this.started) throw new GridwatchError('GW_ERR_JOURNAL_UNAVAILABLE', 'risk history not started', { retryable: true });
    if (records.length === 0) return;
    // of two records of one station and day in a batch the later computation is written last, so it wins
    const sorted = [...records].sort((a, b) => a.day.computedAt - b.day.computedAt);
    const lines = sorted.map((r) => {
      const p = new Point(RISK_MEASUREMENT).tag('station', encodeTagValue(r.day.station)).stringField('day', r.day.day).intField('computedAt', Math.round(r.day.computedAt)).stringField('data', encode(r));
      p.timestamp(`${BigInt(Date.parse(`${r.day.day}T00:00:00Z`)) * 1_000_000n}`);
      return p.toLineProtocol()!;
    });
    try {
      await this.query.writeLines(lines.join('\n'), 'ns');
    } catch (e) {
      const status = (e as { statusCode?: unknown }).statusCode;
      throw new GridwatchError('GW_ERR_JOURNAL_WRITE', `risk history write failed: ${(e as Error).message}`, { cause: e, retryable: typeof status !== 'number' || status >= 500 || status === 429 });
    }
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

  private async run(sql: string): ReturnType<InfluxQuery['influxql']> {
    if (!this.started) throw new GridwatchError('GW_ERR_JOURNAL_UNAVAILABLE', 'risk history not started', { retryable: true });
    try {
      return await this.query.influxql(sql);
    } catch (e) {
      throw new GridwatchError('GW_ERR_JOURNAL_READ', `risk history query failed: ${(e as Error).message}`, { cause: e, retryable: (e as GridwatchError).retryable ?? false });
    }
  }
}
