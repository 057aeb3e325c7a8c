/**
 * Alarm journal in InfluxDB: measurement `alarm_event`, tags `alarmId`
 * `ruleId` `source` `kind` (low cardinality: one series per alarm), every
 * other value a field, `seq` and `at` (epoch ms) among them.
 *
 * A point's key is measurement + tags + timestamp, so two events of one
 * alarm in the same millisecond (a raise landing suppressed is two) would
 * overwrite each other at ms precision. The timestamp is therefore written in
 * ns as `at` ms + (seq mod 10⁶) ns: unique per alarm, still inside `at`'s
 * millisecond, and a retried write of the same entry lands on the same key
 * (idempotent). A `seq` tag would do the same at the price of one series per
 * event.
 *
 * Lines are built with the client's Point (escaping) and written at ns
 * precision through the store's transport (node:http, the readings' kept-alive
 * sockets; fetch cost this loop about 5 % of its time at 600 transitions/s,
 * most of it in web streams). Queries are InfluxQL over `/query` (1.x, 2.x
 * v1-compatible API and 3.x), through the store.
 */
import { Point } from '@influxdata/influxdb-client';
import { decodeTagValue, encodeTagValue, influxString } from '../store/influx.ts';
import { InfluxJournalBase, seqTimestamp, type InfluxQuery, type InfluxSeriesRows } from '../store/influx-journal.ts';
import { fromRow, toRow, ROW_COLUMNS, type AlarmJournal, type JournalEntry, type JournalQuery, type JournalRow } from './journal.ts';

export const JOURNAL_MEASUREMENT = 'alarm_event';
const TAGS = ['alarmId', 'ruleId', 'source', 'kind'] as const;
const INT_FIELDS = new Set<keyof JournalRow>(['seq', 'at', 'severity', 'until']);

export type { InfluxQuery } from '../store/influx-journal.ts';

export function journalLine(e: JournalEntry): string {
  const row = toRow(e);
  const p = new Point(JOURNAL_MEASUREMENT);
  for (const t of TAGS) if (row[t] !== '') p.tag(t, encodeTagValue(row[t]));
  for (const k of ROW_COLUMNS) {
    if ((TAGS as readonly string[]).includes(k)) continue;
    const v = row[k];
    if (v === null) continue;
    if (typeof v === 'boolean') p.booleanField(k, v);
    else if (typeof v === 'number') {
      if (INT_FIELDS.has(k)) p.intField(k, Math.round(v));
      else p.floatField(k, v);
    } else p.stringField(k, v);
  }
  p.timestamp(seqTimestamp(row.at, row.seq));
  const line = p.toLineProtocol();
  if (line === undefined) throw new Error('journal entry without fields');
  return line;
}

export class InfluxAlarmJournal extends InfluxJournalBase implements AlarmJournal {
  readonly kind = 'influxdb' as const;

  constructor(query: InfluxQuery) {
    super(query, { what: 'alarm journal', unavailable: 'GW_ERR_JOURNAL_UNAVAILABLE', write: 'GW_ERR_JOURNAL_WRITE', read: 'GW_ERR_JOURNAL_READ' });
  }

  async append(entries: readonly JournalEntry[]): Promise<void> {
    await this.io.write(entries.map(journalLine));
  }

  async read(q: JournalQuery = {}): Promise<JournalEntry[]> {
    const where: string[] = [];
    if (q.kind !== undefined) where.push(`"kind" = ${influxString(q.kind)}`);
    if (q.alarmId !== undefined) where.push(`"alarmId" = ${influxString(encodeTagValue(q.alarmId))}`);
    // the timestamp lies inside the entry's `at` millisecond
    if (q.from !== undefined) where.push(`time >= ${Math.floor(q.from)}ms`);
    if (q.to !== undefined) where.push(`time < ${Math.ceil(q.to)}ms`);
    if (q.afterSeq !== undefined) where.push(`"seq" > ${Math.floor(q.afterSeq)}`);
    const sql = `SELECT * FROM ${JOURNAL_MEASUREMENT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    const out = entriesOf(await this.run(sql));
    // time order is not seq order: a transition's `at` may be a reading's (older) timestamp
    out.sort((a, b) => a.seq - b.seq);
    return q.limit !== undefined ? out.slice(0, Math.max(0, q.limit)) : out;
  }

  async readCurrent(): Promise<JournalEntry[]> {
    // Per alarm (one series per alarmId), the selector max("seq") returns the
    // other fields of that same point: the last transition, the last raise,
    // the last acknowledgement, each one row per alarm. Time order is not seq
    // order here, so last() would not do.
    const fields = ROW_COLUMNS.filter((k) => k !== 'seq' && !(TAGS as readonly string[]).includes(k)).map((k) => `"${k}"`);
    const sel = `SELECT max("seq") AS "seq", ${fields.join(', ')} FROM ${JOURNAL_MEASUREMENT} WHERE "kind" = 'transition'`;
    const [last, raise, ack, normal] = await Promise.all([
      this.run(`${sel} GROUP BY *`),
      this.run(`${sel} AND ("reason" = 'raise' OR "reason" = 'level') GROUP BY *`),
      this.run(`${sel} AND "reason" = 'acknowledge' GROUP BY *`),
      this.run(`SELECT max("seq") AS "seq" FROM ${JOURNAL_MEASUREMENT} WHERE "kind" = 'transition' AND "to" = 'normal' GROUP BY "alarmId"`),
    ]);
    const lastNormal = new Map<string, number>();
    for (const s of normal) {
      const v = s.values[0]?.[s.columns.indexOf('seq')];
      if (s.tags?.alarmId !== undefined && typeof v === 'number') lastNormal.set(decodeTagValue(s.tags.alarmId), v);
    }
    const bySeq = new Map<number, JournalEntry>();
    const closed = new Set<string>();
    const open: { alarmId: string; after: number }[] = [];
    for (const e of entriesOf(last)) {
      if (e.kind !== 'transition') continue;
      if (e.to === 'normal') (bySeq.set(e.seq, e), closed.add(e.alarmId));
      else open.push({ alarmId: e.alarmId, after: lastNormal.get(e.alarmId) ?? 0 });
    }
    for (const e of [...entriesOf(raise), ...entriesOf(ack)]) if (e.kind === 'transition' && closed.has(e.alarmId)) bySeq.set(e.seq, e);
    // the open episodes, a bounded number of alarms per query
    for (let i = 0; i < open.length; i += 50) {
      const any = open
        .slice(i, i + 50)
        .map((o) => `("alarmId" = ${influxString(encodeTagValue(o.alarmId))} AND "seq" > ${o.after})`)
        .join(' OR ');
      const rows = await this.run(`SELECT * FROM ${JOURNAL_MEASUREMENT} WHERE ("kind" = 'transition' OR "kind" = 'escalation') AND (${any})`);
      for (const e of entriesOf(rows)) bySeq.set(e.seq, e);
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  async lastSeq(): Promise<number> {
    const series = await this.run(`SELECT max("seq") FROM ${JOURNAL_MEASUREMENT}`);
    const v = series[0]?.values[0]?.[1];
    return typeof v === 'number' ? v : 0;
  }

  private run(sql: string): Promise<InfluxSeriesRows> {
    return this.io.select(sql);
  }
}

function entriesOf(series: InfluxSeriesRows): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const s of series) {
    for (const values of s.values) {
      const r: Record<string, unknown> = { alarmId: '', ruleId: '', source: '' };
      for (const k of ROW_COLUMNS) if (!(k in r)) r[k] = null;
      s.columns.forEach((c, i) => {
        if (c === 'time') return;
        const v = values[i] ?? null;
        r[c] = (TAGS as readonly string[]).includes(c) ? (typeof v === 'string' ? decodeTagValue(v) : '') : v;
      });
      for (const t of TAGS) if (s.tags?.[t] !== undefined) r[t] = decodeTagValue(s.tags[t]!);
      out.push(fromRow(r as unknown as JournalRow));
    }
  }
  return out;
}
