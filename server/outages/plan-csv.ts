/**
 * CSV import of planned outages (pure): one plan per row, every rejected row
 * reported with its line number and reason, and nothing imported when any
 * row is rejected. Columns (header row, any order; Chinese headers accepted):
 *   scope      feeder:F1 | transformer:site/T1 | line:site/L1, several joined by ';'
 *   start,end  ISO 8601 with an offset, or `YYYY-MM-DD HH:mm` in the configured zone
 *   reason, workOrder, crew
 * UTF-8 with or without a byte-order mark.
 */
import type { PlanInput } from './plans.ts';
import type { PlanScopeElement } from './types.ts';

const HEADERS: Record<string, keyof PlanInput> = {
  scope: 'scope', 停电范围: 'scope', 范围: 'scope',
  start: 'start', 开始时间: 'start', 开始: 'start',
  end: 'end', 结束时间: 'end', 结束: 'end',
  reason: 'reason', 停电原因: 'reason', 原因: 'reason',
  workorder: 'workOrder', 工单号: 'workOrder', 工单: 'workOrder',
  crew: 'crew', 施工班组: 'crew', 班组: 'crew',
};

export const MAX_IMPORT_ROWS = 5000;

/** RFC 4180 records; a quote inside an unquoted field is kept as it is. Returns rows with their 1-based starting line. */
export function parseCsv(text: string): { line: number; cells: string[] }[] {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const rows: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        cell += ch;
      }
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') (cells.push(cell), (cell = ''));
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && s[i + 1] === '\n') i++;
      cells.push(cell);
      if (cells.some((c) => c.trim() !== '')) rows.push({ line: start, cells });
      cells = [];
      cell = '';
      start = ++line;
    } else cell += ch;
  }
  cells.push(cell);
  if (cells.some((c) => c.trim() !== '')) rows.push({ line: start, cells });
  return rows;
}

export function parseScope(s: string): PlanScopeElement[] | string {
  const out: PlanScopeElement[] = [];
  for (const part of s.split(/[;；]/).map((x) => x.trim()).filter(Boolean)) {
    const m = /^(feeder|transformer|line):(.+)$/.exec(part);
    if (!m) return `scope "${part}": expected feeder:<id>, transformer:<site>/<id> or line:<site>/<id>`;
    const [, kind, ref] = m as unknown as [string, string, string];
    if (kind === 'feeder') out.push({ kind: 'feeder', feeder: ref });
    else {
      const [site, id, extra] = ref.split('/');
      if (!site || !id || extra !== undefined) return `scope "${part}": expected ${kind}:<site>/<id>`;
      out.push(kind === 'transformer' ? { kind: 'transformer', site, transformer: id } : { kind: 'line', site, line: id });
    }
  }
  return out.length ? out : 'scope is empty';
}

/** A time: ISO 8601 with an offset, or `YYYY-MM-DD HH:mm[:ss]` local to `offsetMin`. */
export function parseTime(s: string, offsetMin: number): number | null {
  const t = s.trim();
  const local = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (local) {
    const [, y, mo, d, h, mi, se] = local.map(Number) as number[];
    const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, se || 0) - offsetMin * 60_000;
    return Number.isFinite(ms) && new Date(ms + offsetMin * 60_000).getUTCDate() === d ? ms : null;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) return null;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
}

export type ImportRow = { line: number; input: PlanInput };
export type ImportIssue = { line: number; reason: string };

/** Rows of the CSV as plan inputs, or every issue found. Scope existence, overlaps and windows are checked by the caller. */
export function parsePlanCsv(text: string, offsetMin: number): { rows: ImportRow[]; issues: ImportIssue[] } {
  if (text.includes('\uFFFD')) return { rows: [], issues: [{ line: 1, reason: 'not UTF-8 text (save the file as UTF-8)' }] };
  const records = parseCsv(text);
  const header = records.shift();
  if (!header) return { rows: [], issues: [{ line: 1, reason: 'empty file' }] };
  const cols = header.cells.map((h) => HEADERS[h.trim().toLowerCase()] ?? HEADERS[h.trim()]);
  const missing = (['scope', 'start', 'end', 'reason'] as const).filter((k) => !cols.includes(k));
  if (missing.length) return { rows: [], issues: [{ line: header.line, reason: `header lacks ${missing.join(', ')}` }] };
  if (records.length > MAX_IMPORT_ROWS) return { rows: [], issues: [{ line: header.line, reason: `more than ${MAX_IMPORT_ROWS} rows` }] };
  const rows: ImportRow[] = [];
  const issues: ImportIssue[] = [];
  for (const r of records) {
    if (r.cells.length !== header.cells.length) {
      issues.push({ line: r.line, reason: `${r.cells.length} fields, the header has ${header.cells.length}` });
      continue;
    }
    const get = (k: keyof PlanInput) => {
      const i = cols.indexOf(k);
      return i < 0 ? '' : r.cells[i]!.trim();
    };
    const scope = parseScope(get('scope'));
    const start = parseTime(get('start'), offsetMin);
    const end = parseTime(get('end'), offsetMin);
    const why: string[] = [];
    if (typeof scope === 'string') why.push(scope);
    if (start === null) why.push(`start "${get('start')}" is not a time`);
    if (end === null) why.push(`end "${get('end')}" is not a time`);
    if (get('reason') === '') why.push('reason is empty');
    if (why.length) {
      issues.push({ line: r.line, reason: why.join('; ') });
      continue;
    }
    rows.push({ line: r.line, input: { scope: scope as PlanScopeElement[], start: start!, end: end!, reason: get('reason'), workOrder: get('workOrder'), crew: get('crew') } });
  }
  return { rows, issues };
}
