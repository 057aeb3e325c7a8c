/**
 * Frequent outages (频繁停电, pure): customers with at least `min` measured
 * outages whose start lies within `days` before `now`. Merged records (a
 * transformer outage that became part of a feeder outage) count once, as the
 * feeder outage; a nested outage counts too (the customer was dark again).
 */
import type { OutageRecord } from './types.ts';

export interface FrequentCustomer {
  customer: string;
  count: number;
  outages: { id: string; start: number; end?: number; cause: OutageRecord['cause'] }[];
}

export function frequentOutages(records: Iterable<OutageRecord>, now: number, days: number, min: number): FrequentCustomer[] {
  const from = now - days * 86_400_000;
  const by = new Map<string, FrequentCustomer['outages']>();
  for (const r of records) {
    if (r.state === 'merged' || r.start < from || r.start > now) continue;
    for (const c of r.customers) {
      const l = by.get(c) ?? [];
      l.push({ id: r.id, start: r.start, ...(r.end !== undefined ? { end: r.end } : {}), cause: r.cause });
      by.set(c, l);
    }
  }
  const out: FrequentCustomer[] = [];
  for (const [customer, outages] of by) if (outages.length >= min) out.push({ customer, count: outages.length, outages: outages.sort((a, b) => a.start - b.start) });
  return out.sort((a, b) => b.count - a.count || (a.customer < b.customer ? -1 : 1));
}
