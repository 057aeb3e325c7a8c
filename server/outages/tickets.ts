/**
 * Repair calls (报修, pure): the verdict from live data at once.
 *  - the customer (or meter) is inside a known active outage → linked to it,
 *    a duplicate of a known job;
 *  - its meter is live with a normal voltage → a fault on the customer's side is likely;
 *  - its meter alone is dark (no known outage covers it) → a single-customer outage;
 *  - otherwise unknown (no meter, no fresh reading).
 * Calls of one customer (or meter) within the repeat window are counted.
 */
import type { Grid } from './grid.ts';
import type { MeterSupply, OutageRecord, Ticket, TicketVerdict } from './types.ts';

export interface TicketInput {
  customer?: string;
  meter?: string;
  address?: string;
  time: number;
  text: string;
}

/** GB/T 12325 §4.3: 220 V single-phase supply within +7 % / −10 % of nominal. */
export const NORMAL_V = { min: 198, max: 235.4 };

export function studyTicket(
  t: TicketInput,
  grid: Grid,
  active: readonly OutageRecord[],
  supply: (meter: string) => MeterSupply | undefined,
  previous: readonly Ticket[],
  repeatWindowMs: number,
): { verdict: TicketVerdict; outageId?: string; repeatCount: number; evidence: string; site: string; meter?: string } {
  const c = t.customer !== undefined ? grid.customers.get(t.customer) : t.meter !== undefined ? grid.customerOfMeter(t.meter) : undefined;
  const meter = t.meter ?? (c ? grid.meterOfCustomer(c) : undefined);
  const site = c?.site ?? (meter !== undefined ? grid.meters.get(meter)?.site : undefined) ?? '';
  const repeatCount =
    1 +
    previous.filter(
      (p) => Math.abs(t.time - p.time) <= repeatWindowMs && ((c !== undefined && p.customer === c.id) || (c === undefined && meter !== undefined && p.meter === meter)),
    ).length;
  const base = { repeatCount, site, ...(meter !== undefined ? { meter } : {}) };
  const o = active.find((r) => (c !== undefined && r.customers.includes(c.id)) || (meter !== undefined && r.meters.includes(meter)));
  if (o) return { ...base, verdict: 'linked', outageId: o.id, evidence: `inside outage ${o.id} (${o.cause}) since ${new Date(o.start).toISOString()}` };
  const s = meter !== undefined ? supply(meter) : undefined;
  if (s?.status === 'live' && s.voltage !== null && s.voltage >= NORMAL_V.min && s.voltage <= NORMAL_V.max)
    return { ...base, verdict: 'customer_side', evidence: `meter ${meter} reads ${s.voltage} V (normal) at ${new Date(s.at ?? 0).toISOString()}` };
  if (s?.status === 'dark') return { ...base, verdict: 'single_outage', evidence: `meter ${meter} dark since ${new Date(s.since).toISOString()}, no known outage covers it` };
  return { ...base, verdict: 'unknown', evidence: meter === undefined ? 'no meter known for the caller' : s?.status === 'live' ? `meter ${meter} reads ${s.voltage} V (outside the normal range)` : `no fresh reading of meter ${meter}` };
}
