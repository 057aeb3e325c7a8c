/**
 * Alarm journal in the embedded store: table `alarm_event` in the same
 * DuckDB file as the readings, on its own connection to the store's database
 * (so its inserts never join the store's write transactions). Append-only;
 * `seq` is the primary key, so a retried batch inserts nothing twice.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { SerialConnection } from '../store/duckdb-connection.ts';
import { insertChunked, type ChunkedInsert } from '../store/duckdb-insert.ts';
import { fromRow, toRow, type AlarmJournal, type JournalEntry, type JournalQuery, type JournalRow } from './journal.ts';

/** JournalRow key → column (`from`, `to`, `at` … are SQL keywords). */
const COLUMNS: ReadonlyArray<readonly [keyof JournalRow, string, string]> = [
  ['seq', 'seq', 'BIGINT PRIMARY KEY'],
  ['at', 'at_ms', 'BIGINT NOT NULL'],
  ['kind', 'kind', 'VARCHAR NOT NULL'],
  ['alarmId', 'alarm_id', 'VARCHAR NOT NULL'],
  ['ruleId', 'rule_id', 'VARCHAR NOT NULL'],
  ['source', 'source', 'VARCHAR NOT NULL'],
  ['from', 'from_state', 'VARCHAR'],
  ['to', 'to_state', 'VARCHAR'],
  ['reason', 'reason', 'VARCHAR'],
  ['by', 'by_user', 'VARCHAR'],
  ['comment', 'comment', 'VARCHAR'],
  ['severity', 'severity', 'INTEGER'],
  ['active', 'active', 'BOOLEAN'],
  ['level', 'level', 'VARCHAR'],
  ['message', 'message', 'VARCHAR'],
  ['detail', 'detail', 'VARCHAR'],
  ['until', 'until_ms', 'BIGINT'],
  ['data', 'data', 'VARCHAR'],
];
const INSERT: ChunkedInsert = { table: 'alarm_event', columns: COLUMNS.map(([, c]) => c), onConflict: 'ON CONFLICT (seq) DO NOTHING', perInsert: 200 };
const BIGINT_KEYS = new Set<keyof JournalRow>(['seq', 'at', 'until']);

export class DuckDbAlarmJournal implements AlarmJournal {
  readonly kind = 'duckdb' as const;
  private readonly conn = new SerialConnection({ what: 'alarm journal', unavailable: 'GW_ERR_JOURNAL_UNAVAILABLE', write: 'GW_ERR_JOURNAL_WRITE', read: 'GW_ERR_JOURNAL_READ' });

  /** `connect` opens a new connection to the store's database (the store must be started). */
  constructor(private readonly connect: () => Promise<DuckDBConnection>) {}

  async start(): Promise<void> {
    const conn = this.conn.open(await this.connect());
    await conn.run(`CREATE TABLE IF NOT EXISTS alarm_event (${COLUMNS.map(([, c, t]) => `${c} ${t}`).join(', ')})`);
    await conn.run('CREATE INDEX IF NOT EXISTS alarm_event_alarm ON alarm_event (alarm_id)');
  }

  async stop(): Promise<void> {
    await this.conn.close();
  }

  append(entries: readonly JournalEntry[]): Promise<void> {
    return this.conn.write((conn) => this.appendNow(conn, entries));
  }

  private async appendNow(conn: DuckDBConnection, entries: readonly JournalEntry[]): Promise<void> {
    await insertChunked(
      conn,
      INSERT,
      entries.map((e) => {
        const r = toRow(e);
        return COLUMNS.map(([k]): DuckDBValue => {
          const v = r[k];
          return typeof v === 'number' && BIGINT_KEYS.has(k) ? BigInt(Math.round(v)) : v;
        });
      }),
    );
  }

  async read(q: JournalQuery = {}): Promise<JournalEntry[]> {
    const where: string[] = [];
    const params: DuckDBValue[] = [];
    if (q.kind !== undefined) (where.push('kind = ?'), params.push(q.kind));
    if (q.alarmId !== undefined) (where.push('alarm_id = ?'), params.push(q.alarmId));
    if (q.from !== undefined) (where.push('at_ms >= ?'), params.push(BigInt(Math.floor(q.from))));
    if (q.to !== undefined) (where.push('at_ms < ?'), params.push(BigInt(Math.ceil(q.to))));
    if (q.afterSeq !== undefined) (where.push('seq > ?'), params.push(BigInt(Math.floor(q.afterSeq))));
    const sql =
      `SELECT ${COLUMNS.map(([, c]) => c).join(', ')} FROM alarm_event` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY seq' +
      (q.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(q.limit))}` : '');
    return (await this.select(sql, params)).map(entryOf);
  }

  async readCurrent(): Promise<JournalEntry[]> {
    // one pass over the (seq, alarm_id, to_state, reason) columns, then only the rows needed
    const sql = `
      WITH per AS (
        SELECT alarm_id,
               max(seq) AS last_seq,
               max(seq) FILTER (WHERE to_state = 'normal') AS last_normal,
               max(seq) FILTER (WHERE reason IN ('raise', 'level')) AS last_raise,
               max(seq) FILTER (WHERE reason = 'acknowledge') AS last_ack
        FROM alarm_event WHERE kind = 'transition' GROUP BY alarm_id)
      SELECT ${COLUMNS.map(([, c]) => `e.${c}`).join(', ')}
      FROM alarm_event e JOIN per p ON e.alarm_id = p.alarm_id
      WHERE e.kind IN ('transition', 'escalation') AND (
        (p.last_normal IS NULL OR p.last_seq > p.last_normal) AND e.seq > coalesce(p.last_normal, 0)
        OR p.last_seq = p.last_normal AND e.kind = 'transition' AND (e.seq = p.last_seq OR e.seq = p.last_raise OR e.seq = p.last_ack))
      ORDER BY e.seq`;
    return (await this.select(sql)).map(entryOf);
  }

  async lastSeq(): Promise<number> {
    const rows = await this.select('SELECT coalesce(max(seq), 0) AS s FROM alarm_event');
    return Number(rows[0]?.s ?? 0);
  }

  private select(sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    return this.conn.select(sql, params);
  }
}

function entryOf(row: Record<string, unknown>): JournalEntry {
  const r: Record<string, unknown> = {};
  for (const [k, c] of COLUMNS) {
    const v = row[c];
    r[k] = typeof v === 'bigint' ? Number(v) : v ?? null;
  }
  return fromRow(r as unknown as JournalRow);
}
