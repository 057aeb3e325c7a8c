/**
 * The outage pool's journal port: every change of a plan, measured outage,
 * finding or ticket is an entry holding the entity's new value, who made the
 * change and when. Append-only, in the same store as the readings (DuckDB
 * table / InfluxDB measurement `outage_event`). At start the pool is rebuilt
 * from the last entry of each entity; an entity's entries are its timeline.
 * Appending an entry whose seq is stored is a no-op (a retried batch).
 */
import { Point } from '@influxdata/influxdb-client';
import type { DuckDBConnection } from '@duckdb/node-api';
import { SerialConnection } from '../store/duckdb-connection.ts';
import { insertChunked, type ChunkedInsert } from '../store/duckdb-insert.ts';
import { decodeTagValue, encodeTagValue, influxString } from '../store/influx.ts';
import { InfluxJournalBase, seqTimestamp, type InfluxQuery } from '../store/influx-journal.ts';

export type PoolEntityKind = 'plan' | 'outage' | 'finding' | 'ticket';

export interface PoolEntry {
  seq: number;
  /** epoch ms of the change */
  at: number;
  kind: PoolEntityKind;
  id: string;
  /** what happened, short: `created`, `confirmed (12 customers)`, `supply cut: in progress` */
  what: string;
  /** user name, or `system` for a change the pool made from measurements */
  by: string;
  /** the entity after the change */
  data: unknown;
}

export interface PoolJournal {
  start(): Promise<void>;
  stop(): Promise<void>;
  append(entries: readonly PoolEntry[]): Promise<void>;
  /** the last entry of every entity, in seq order */
  readCurrent(): Promise<PoolEntry[]>;
  /** every entry of one entity, in seq order */
  timeline(kind: PoolEntityKind, id: string): Promise<PoolEntry[]>;
  lastSeq(): Promise<number>;
}

const CODES = { what: 'outage journal', unavailable: 'GW_ERR_JOURNAL_UNAVAILABLE', write: 'GW_ERR_JOURNAL_WRITE', read: 'GW_ERR_JOURNAL_READ' } as const;
const INSERT: ChunkedInsert = { table: 'outage_event', columns: ['seq', 'at_ms', 'kind', 'id', 'what', 'by_user', 'data'], onConflict: 'ON CONFLICT (seq) DO NOTHING' };

export class DuckDbPoolJournal implements PoolJournal {
  private readonly conn = new SerialConnection(CODES);
  constructor(private readonly connect: () => Promise<DuckDBConnection>) {}

  async start(): Promise<void> {
    const conn = this.conn.open(await this.connect());
    await conn.run('CREATE TABLE IF NOT EXISTS outage_event (seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, kind VARCHAR NOT NULL, id VARCHAR NOT NULL, what VARCHAR NOT NULL, by_user VARCHAR NOT NULL, data VARCHAR NOT NULL)');
    await conn.run('CREATE INDEX IF NOT EXISTS outage_event_id ON outage_event (kind, id)');
  }

  async stop(): Promise<void> {
    await this.conn.close();
  }

  append(entries: readonly PoolEntry[]): Promise<void> {
    return this.conn.write((conn) => insertChunked(conn, INSERT, entries.map((e) => [BigInt(e.seq), BigInt(Math.round(e.at)), e.kind, e.id, e.what, e.by, JSON.stringify(e.data)])));
  }

  async readCurrent(): Promise<PoolEntry[]> {
    return (await this.conn.select('SELECT * FROM outage_event QUALIFY row_number() OVER (PARTITION BY kind, id ORDER BY seq DESC) = 1 ORDER BY seq')).map(duckEntry);
  }

  async timeline(kind: PoolEntityKind, id: string): Promise<PoolEntry[]> {
    return (await this.conn.select('SELECT * FROM outage_event WHERE kind = ? AND id = ? ORDER BY seq', [kind, id])).map(duckEntry);
  }

  async lastSeq(): Promise<number> {
    const rows = await this.conn.select('SELECT coalesce(max(seq), 0) AS s FROM outage_event');
    return Number(rows[0]?.s ?? 0);
  }
}

function duckEntry(r: Record<string, unknown>): PoolEntry {
  return { seq: Number(r.seq), at: Number(r.at_ms), kind: r.kind as PoolEntityKind, id: String(r.id), what: String(r.what), by: String(r.by_user), data: JSON.parse(String(r.data)) };
}

export const POOL_MEASUREMENT = 'outage_event';

/**
 * InfluxDB: tags `kind` and `id` (one series per entity), fields seq, what,
 * by, data. The timestamp is `at` ms + (seq mod 10⁶) ns, as in the alarm
 * journal: two changes of one entity in one millisecond stay two points, and a
 * retried write lands on the same key.
 */
export class InfluxPoolJournal extends InfluxJournalBase implements PoolJournal {
  constructor(query: InfluxQuery) {
    super(query, CODES);
  }

  async append(entries: readonly PoolEntry[]): Promise<void> {
    const lines = entries.map((e) => {
      const p = new Point(POOL_MEASUREMENT).tag('kind', e.kind).tag('id', encodeTagValue(e.id)).intField('seq', e.seq).intField('at', Math.round(e.at)).stringField('what', e.what).stringField('by', e.by).stringField('data', JSON.stringify(e.data));
      p.timestamp(seqTimestamp(e.at, e.seq));
      return p.toLineProtocol()!;
    });
    await this.io.write(lines);
  }

  async readCurrent(): Promise<PoolEntry[]> {
    // the selector max("seq") returns the other fields of that point: the entity's last entry
    return (await this.run(`SELECT max("seq") AS "seq", "at", "what", "by", "data" FROM ${POOL_MEASUREMENT} GROUP BY "kind", "id"`)).sort((a, b) => a.seq - b.seq);
  }

  async timeline(kind: PoolEntityKind, id: string): Promise<PoolEntry[]> {
    return (await this.run(`SELECT "seq", "at", "what", "by", "data" FROM ${POOL_MEASUREMENT} WHERE "kind" = ${influxString(kind)} AND "id" = ${influxString(encodeTagValue(id))} GROUP BY "kind", "id"`)).sort((a, b) => a.seq - b.seq);
  }

  async lastSeq(): Promise<number> {
    const s = await this.io.select(`SELECT max("seq") FROM ${POOL_MEASUREMENT}`);
    const v = s[0]?.values[0]?.[1];
    return typeof v === 'number' ? v : 0;
  }

  private async run(sql: string): Promise<PoolEntry[]> {
    const series = await this.io.select(sql);
    const out: PoolEntry[] = [];
    for (const s of series)
      for (const row of s.values) {
        const get = (c: string) => row[s.columns.indexOf(c)];
        out.push({ seq: Number(get('seq')), at: Number(get('at')), kind: s.tags?.kind as PoolEntityKind, id: decodeTagValue(s.tags?.id ?? ''), what: String(get('what')), by: String(get('by')), data: JSON.parse(String(get('data'))) });
      }
    return out;
  }
}
