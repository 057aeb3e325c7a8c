/**
 * CSV as spreadsheets open it: UTF-8 with a byte-order mark (Excel otherwise
 * reads Chinese as mojibake), CRLF line ends, RFC 4180 quoting. Text cells
 * that a spreadsheet would run as a formula (starting with = + - @, tab or
 * CR) get a leading apostrophe; numbers are written as numbers.
 */

export const CSV_BOM = '\uFEFF';
export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

export type CsvValue = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell: empty for null/undefined, quoted when it holds a comma, quote, CR or LF. */
export function csvCell(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = String(v);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One record with its CRLF. */
export function csvRow(cells: readonly CsvValue[]): string {
  return cells.map(csvCell).join(',') + '\r\n';
}

/** `+08:00` → minutes east of UTC; 'Z' → 0. */
export function tzMinutes(tz: string): number {
  if (tz === 'Z') return 0;
  const sign = tz.startsWith('-') ? -1 : 1;
  const [h, m] = tz.slice(1).split(':').map(Number);
  return sign * ((h ?? 0) * 60 + (m ?? 0));
}

/** Epoch ms as ISO 8601 local time in the zone `tz` (`+08:00`, `Z`): `2026-10-01T08:00:00.000+08:00`. */
export function isoInZone(ms: number | null | undefined, tz: string): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  const local = new Date(ms + tzMinutes(tz) * 60_000).toISOString(); // …Z, shifted
  return tz === 'Z' ? local : local.slice(0, -1) + tz;
}
