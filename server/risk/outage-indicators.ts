/**
 * Demand indicators of stations from the outage pool (docs/risk.md,
 * Indicators from the outage pool). Pure: the caller passes the pool's
 * records and tickets, where each customer belongs and how many customers
 * each station has. A station is a topology site.
 */
import { frequentOutages } from '../outages/frequent.ts';
import type { OutageRecord, Ticket } from '../outages/types.ts';

export interface OutageDemand {
  /** repair calls ÷ customers × 1,000; null when the station has no customers */
  'repair-calls-per-1000': number | null;
  /** repair calls from a caller who called before within the pool's repeat window */
  'repeated-calls': number;
  /** fault outage records (merged ones count once, as the feeder outage) touching the station */
  'fault-outages': number;
  /** Σ hours dark of the station's customers in fault outages, cut at the window's end */
  'customer-hours': number;
  /** the station's customers with at least `frequentMin` outages in the window */
  'frequent-outage-customers': number;
}

export interface OutageInput {
  records: readonly OutageRecord[];
  tickets: readonly Ticket[];
  siteOfCustomer: (customer: string) => string | undefined;
  /** customers per station */
  customers: ReadonlyMap<string, number>;
  /** outages in the window that make a customer "frequent" */
  frequentMin: number;
}

const HOUR = 3_600_000;

export function outageDemand(input: OutageInput, stations: readonly string[], window: { from: number; to: number }): Map<string, OutageDemand> {
  const acc = new Map(stations.map((s) => [s, { calls: 0, repeated: 0, faults: 0, hoursMs: 0, frequent: 0 }]));
  const inWindow = (t: number) => t >= window.from && t < window.to;
  for (const t of input.tickets) {
    const a = acc.get(t.site);
    if (!a || !inWindow(t.time)) continue;
    a.calls++;
    if (t.repeatCount > 1) a.repeated++;
  }
  for (const r of input.records) {
    if (r.cause !== 'fault' || r.state === 'merged' || !inWindow(r.start)) continue;
    const touched = new Set<string>();
    for (const tr of r.transformers) touched.add(tr.split('/')[0]!);
    const darkMs = Math.max(0, Math.min(r.end ?? window.to, window.to) - r.start);
    for (const c of r.customers) {
      const site = input.siteOfCustomer(c);
      if (site === undefined) continue;
      touched.add(site);
      const a = acc.get(site);
      if (a) a.hoursMs += darkMs;
    }
    for (const s of touched) {
      const a = acc.get(s);
      if (a) a.faults++;
    }
  }
  const days = (window.to - window.from) / 86_400_000;
  const frequent = frequentOutages(
    input.records.filter((r) => r.start >= window.from),
    window.to - 1,
    days,
    input.frequentMin,
  );
  for (const f of frequent) {
    const a = acc.get(input.siteOfCustomer(f.customer) ?? '');
    if (a) a.frequent++;
  }
  return new Map(
    [...acc].map(([s, a]) => {
      const n = input.customers.get(s) ?? 0;
      return [
        s,
        {
          'repair-calls-per-1000': n > 0 ? Math.round((a.calls / n) * 1000 * 1000) / 1000 : null,
          'repeated-calls': a.repeated,
          'fault-outages': a.faults,
          'customer-hours': Math.round((a.hoursMs / HOUR) * 100) / 100,
          'frequent-outage-customers': a.frequent,
        },
      ];
    }),
  );
}
