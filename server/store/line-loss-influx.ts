/**
 * The `line_loss` measurement in InfluxDB: tags site, transformer,
 * interval; at the interval's start; fields `complete`, `loss_pct` (only
 * for a figure) and `doc`, the whole figure as JSON (what is read back).
 * Writing a key again replaces `doc` (InfluxDB overwrites the fields a
 * point carries).
 */
import type { LineLossRecord } from '../energy/types.ts';
import { encodeTagValue } from './influx-line.ts';
import { influxString, type InfluxSeries } from './influx-transport.ts';
import type { LineLossQuery } from './types.ts';

export const LINE_LOSS_MEASUREMENT = 'line_loss';

const tag = (v: string) => encodeTagValue(v).replace(/[,= ]/g, '\\$&');
const str = (v: string) => `"${v.replace(/[\\"]/g, '\\$&')}"`;

export function lineLossLines(records: readonly LineLossRecord[]): string {
  return records
    .map((r) => {
      const fields = [`complete=${r.complete ? 'true' : 'false'}`, `doc=${str(JSON.stringify(r))}`];
      if (r.lossPct !== null) fields.push(`loss_pct=${r.lossPct}`);
      return `${LINE_LOSS_MEASUREMENT},site=${tag(r.site)},transformer=${tag(r.transformer)},interval=${tag(r.interval)} ${fields.join(',')} ${Math.floor(r.start)}`;
    })
    .join('\n');
}

export function lineLossQuery(q: LineLossQuery): string {
  const conds = [`"interval" = ${influxString(q.interval)}`, `time >= ${Math.floor(q.from)}ms`, `time < ${Math.floor(q.to)}ms`];
  if (q.sites?.length) conds.push(`(${q.sites.map((s) => `"site" = ${influxString(encodeTagValue(s))}`).join(' OR ')})`);
  if (q.transformer !== undefined) conds.push(`"transformer" = ${influxString(encodeTagValue(q.transformer))}`);
  return `SELECT "doc" FROM ${LINE_LOSS_MEASUREMENT} WHERE ${conds.join(' AND ')} GROUP BY "site", "transformer"`;
}

export function lineLossRecords(series: readonly InfluxSeries[]): LineLossRecord[] {
  const out: LineLossRecord[] = [];
  for (const s of series) {
    const ci = s.columns.indexOf('doc');
    for (const row of s.values) if (typeof row[ci] === 'string') out.push(JSON.parse(row[ci] as string) as LineLossRecord);
  }
  // the order the embedded store answers in: site, transformer, start
  return out.sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : a.transformer < b.transformer ? -1 : a.transformer > b.transformer ? 1 : a.start - b.start));
}
