/**
 * Demand indicators from the outage pool's records and repair calls, per
 * station for a window: repair calls per 1,000 customers (none without
 * customers), repeated calls, fault outages (planned and merged ones not
 * counted, one feeder outage counted at each station it touches),
 * customer-hours cut at the window's end, frequent-outage customers.
 */
import { describe, expect, it } from 'vitest';
import type { OutageRecord, Ticket } from '../../server/outages/types.ts';
import { outageDemand } from '../../server/risk/index.ts';

const H = 3_600_000;
const FROM = Date.UTC(2026, 10, 1);
const TO = FROM + 30 * 24 * H;

function rec(id: string, over: Partial<OutageRecord>): OutageRecord {
  return {
    id, scope: { kind: 'transformer', site: 's1', transformer: 't1' }, transformers: ['s1/t1'], meters: [], cause: 'fault',
    start: FROM + 24 * H, end: FROM + 26 * H, state: 'restored', customers: [], important: 0, findings: [], tickets: [], alarmIds: [], ...over,
  };
}

function ticket(id: string, site: string, time: number, repeatCount = 1): Ticket {
  return { id, site, time, text: 'no power', verdict: 'linked', repeatCount, evidence: '', createdBy: 'op1', createdAt: time };
}

describe('outage demand per station', () => {
  it('counts each figure of the window', () => {
    const siteOf = (c: string) => c.split('-')[0];
    const records = [
      rec('o1', { customers: ['s1-a', 's1-b'] }), // 2 customers × 2 h
      rec('o2', { start: FROM + 48 * H, end: FROM + 49 * H, customers: ['s1-a'] }),
      rec('o3', { start: FROM + 72 * H, end: FROM + 73 * H, customers: ['s1-a'] }), // s1-a: 3 outages → frequent
      rec('o4', { cause: 'planned', customers: ['s1-b'] }), // planned: not a fault outage
      rec('o5', { state: 'merged', mergedInto: 'o6', customers: ['s2-x'] }), // counted as o6
      rec('o6', { transformers: ['s2/t5', 's3/t9'], start: TO - H, end: undefined, state: 'active', customers: ['s2-x', 's2-y', 's3-z'] }), // cut at TO
      rec('o7', { start: FROM - 2 * H, customers: ['s1-a'] }), // before the window
    ];
    const tickets = [ticket('c1', 's1', FROM + 24 * H), ticket('c2', 's1', FROM + 25 * H, 2), ticket('c3', 's2', FROM + 30 * H), ticket('c4', 's1', TO + H)];
    const r = outageDemand(
      { records, tickets, siteOfCustomer: siteOf, customers: new Map([['s1', 400], ['s2', 1000]]), frequentMin: 3 },
      ['s1', 's2', 's3'],
      { from: FROM, to: TO },
    );
    expect(Object.fromEntries(r)).toEqual({
      s1: { 'repair-calls-per-1000': 5, 'repeated-calls': 1, 'fault-outages': 3, 'customer-hours': 6, 'frequent-outage-customers': 1 },
      s2: { 'repair-calls-per-1000': 1, 'repeated-calls': 0, 'fault-outages': 1, 'customer-hours': 2, 'frequent-outage-customers': 0 },
      s3: { 'repair-calls-per-1000': null, 'repeated-calls': 0, 'fault-outages': 1, 'customer-hours': 1, 'frequent-outage-customers': 0 },
    });
  });
});
