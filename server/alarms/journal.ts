/**
 * The alarm journal port (docs/alarms.md, Journal: alarm events are an
 * append-only journal in the same store as the readings; the current alarm
 * set is rebuilt from it at start). Two implementations, one contract suite
 * (test/alarms/journal-contract.ts): DuckDB (a table in the store's file) and
 * InfluxDB (measurement `alarm_event`).
 *
 * Entries are never updated or deleted. `seq` is assigned by the alarm
 * service, globally and without gaps, before an entry is appended; appending
 * an entry whose seq is already stored is a no-op (a retried batch).
 */
import type { EscalationEntry, JournalEntry, JournalEntryKind, RulesEntry, TransitionEntry } from '../../contract/index.ts';
import type { JsonObject, Severity } from '../rules/index.ts';

// the entries are what the browser reads as an alarm's history: declared in contract/frames.ts
export type { EscalationEntry, JournalEntry, JournalEntryKind, RulesEntry, TransitionEntry };

export interface JournalQuery {
  kind?: JournalEntryKind;
  alarmId?: string;
  /** epoch ms, inclusive (entry `at`) */
  from?: number;
  /** epoch ms, exclusive */
  to?: number;
  /** only entries with a larger seq */
  afterSeq?: number;
  /** at most this many, the first ones in seq order */
  limit?: number;
}

export interface AlarmJournal {
  readonly kind: 'influxdb' | 'duckdb';
  /** The store this journal lives in must already be started. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves once every entry is durably stored; may be retried with the same entries. */
  append(entries: readonly JournalEntry[]): Promise<void>;
  /** Entries matching the query, in seq order. */
  read(q?: JournalQuery): Promise<JournalEntry[]>;
  /** The largest stored seq, 0 when empty. */
  lastSeq(): Promise<number>;
  /**
   * What rebuilds the current alarm set at start without reading the whole
   * history (its size is bounded by the number of alarm ids and the length of
   * the episodes still open, not by years of closed ones), in seq order:
   *  - an alarm whose last transition left it `normal` (closed): that
   *    transition, its last `raise`/`level` transition (what it was about) and
   *    its last `acknowledge` (who took it);
   *  - any other alarm (open): every transition and escalation after its last
   *    transition to `normal` (the current episode).
   * `rebuild()` of these gives every alarm as `rebuild()` of the whole journal
   * does (a closed alarm's `since` aside when comments followed its closing).
   */
  readCurrent(): Promise<JournalEntry[]>;
}

// ---------------------------------------------------------------- a flat row shared by both adapters

/**
 * One entry as a flat record of scalar columns: the transition's own fields
 * are columns (queryable), anything else of the other kinds is JSON in `data`.
 * Absent values are null.
 */
export interface JournalRow {
  seq: number;
  at: number;
  kind: JournalEntryKind;
  alarmId: string;
  ruleId: string;
  source: string;
  from: string | null;
  to: string | null;
  reason: string | null;
  by: string | null;
  comment: string | null;
  severity: number | null;
  active: boolean | null;
  level: string | null;
  message: string | null;
  /** JSON text */
  detail: string | null;
  until: number | null;
  /** JSON text: the rest of an escalation or rules entry */
  data: string | null;
}

export const ROW_COLUMNS = [
  'seq',
  'at',
  'kind',
  'alarmId',
  'ruleId',
  'source',
  'from',
  'to',
  'reason',
  'by',
  'comment',
  'severity',
  'active',
  'level',
  'message',
  'detail',
  'until',
  'data',
] as const satisfies readonly (keyof JournalRow)[];

const NULLS = {
  from: null,
  to: null,
  reason: null,
  by: null,
  comment: null,
  severity: null,
  active: null,
  level: null,
  message: null,
  detail: null,
  until: null,
  data: null,
} as const;

export function toRow(e: JournalEntry): JournalRow {
  switch (e.kind) {
    case 'transition':
      return {
        seq: e.seq,
        at: e.at,
        kind: e.kind,
        alarmId: e.alarmId,
        ruleId: e.ruleId,
        source: e.source,
        from: e.from,
        to: e.to,
        reason: e.reason,
        by: e.by ?? null,
        comment: e.comment ?? null,
        severity: e.severity,
        active: e.active,
        level: e.level ?? null,
        message: e.message ?? null,
        detail: e.detail === undefined ? null : JSON.stringify(e.detail),
        until: e.until ?? null,
        data: null,
      };
    case 'escalation': {
      const { kind, seq, at, alarmId, ruleId, source, severity, ...rest } = e;
      return { ...NULLS, seq, at, kind, alarmId, ruleId, source, severity, data: JSON.stringify(rest) };
    }
    case 'rules': {
      const { kind, seq, at, ruleId, by, comment, ...rest } = e;
      return { ...NULLS, seq, at, kind, alarmId: '', ruleId, source: '', by, comment: comment ?? null, data: JSON.stringify(rest) };
    }
    default: {
      const never: never = e;
      throw new Error(`unknown journal entry ${JSON.stringify(never)}`);
    }
  }
}

export function fromRow(r: JournalRow): JournalEntry {
  switch (r.kind) {
    case 'transition': {
      const t: TransitionEntry = {
        kind: 'transition',
        seq: r.seq,
        alarmId: r.alarmId,
        ruleId: r.ruleId,
        source: r.source,
        from: r.from as TransitionEntry['from'],
        to: r.to as TransitionEntry['to'],
        reason: r.reason as TransitionEntry['reason'],
        at: r.at,
        severity: (r.severity ?? 4) as Severity,
        active: r.active === true,
      };
      if (r.by !== null) t.by = r.by;
      if (r.comment !== null) t.comment = r.comment;
      if (r.level !== null) t.level = r.level;
      if (r.message !== null) t.message = r.message;
      if (r.detail !== null) t.detail = JSON.parse(r.detail) as JsonObject;
      if (r.until !== null) t.until = r.until;
      return t;
    }
    case 'escalation': {
      const rest = JSON.parse(r.data ?? '{}') as Omit<EscalationEntry, 'kind' | 'seq' | 'at' | 'alarmId' | 'ruleId' | 'source' | 'severity'>;
      return { kind: 'escalation', seq: r.seq, at: r.at, alarmId: r.alarmId, ruleId: r.ruleId, source: r.source, severity: (r.severity ?? 4) as Severity, ...rest };
    }
    case 'rules': {
      const rest = JSON.parse(r.data ?? '{}') as { document: JsonObject };
      const e: RulesEntry = { kind: 'rules', seq: r.seq, at: r.at, by: r.by ?? '', ruleId: r.ruleId, document: rest.document };
      if (r.comment !== null) e.comment = r.comment;
      return e;
    }
    default: {
      const never: never = r.kind;
      throw new Error(`unknown journal entry kind ${String(never)}`);
    }
  }
}

/** Applies a query to entries in memory (entries not yet stored, and tests). */
export function matchesQuery(e: JournalEntry, q: JournalQuery): boolean {
  if (q.kind !== undefined && e.kind !== q.kind) return false;
  if (q.alarmId !== undefined && (e.kind === 'rules' || e.alarmId !== q.alarmId)) return false;
  if (q.from !== undefined && e.at < q.from) return false;
  if (q.to !== undefined && e.at >= q.to) return false;
  if (q.afterSeq !== undefined && e.seq <= q.afterSeq) return false;
  return true;
}
