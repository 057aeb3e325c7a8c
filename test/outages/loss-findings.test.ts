/**
 * Negative line loss as topology-mismatch findings (server/outages/loss-findings.ts):
 * which figures open, add to and resolve an area's finding.
 */
import { describe, expect, it } from 'vitest';
import type { LineLossRecord } from '../../server/energy/types.ts';
import { foldLossFindings } from '../../server/outages/loss-findings.ts';
import type { Finding } from '../../server/outages/types.ts';

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 2, 0);

function fig(transformer: string, hour: number, supply: number, sales: number, more: Partial<LineLossRecord> = {}): LineLossRecord {
  const loss = Math.round((supply - sales) * 1e6) / 1e6;
  return {
    site: 's1', room: 'r1', transformer, interval: '1h', start: T0 + hour * H, end: T0 + (hour + 1) * H, complete: true,
    supplyKwh: supply, salesKwh: sales, lossKwh: loss, lossPct: Math.round((loss / supply) * 10000) / 100, meters: 2, missing: [], events: [], computedAt: T0 + 30 * H, ...more,
  };
}

function run(findings: Map<string, Finding>, records: LineLossRecord[], ids: { n: number }): Finding[] {
  const out = foldLossFindings(findings, records, () => `F${++ids.n}`, T0 + 40 * H);
  for (const f of out) findings.set(f.meter, f);
  return out;
}

describe('negative line loss → findings', () => {
  it('opens one finding on the area naming supply, sales and the hour; adds later negative hours; resolves on the first normal hour after them', () => {
    const findings = new Map<string, Finding>();
    const ids = { n: 0 };
    // −1 % exactly is not below the limit; an incomplete or 15-min figure is not judged
    expect(run(findings, [fig('t2', 0, 100, 101), fig('t2', 1, 100, 0, { complete: false, supplyKwh: null, salesKwh: null, lossKwh: null, lossPct: null }), fig('t2', 2, 100, 106, { interval: '15m' })], ids)).toEqual([]);
    const [opened] = run(findings, [fig('t2', 3, 100, 105), fig('t1', 3, 400, 384)], ids);
    expect(opened).toMatchObject({
      id: 'F1', meter: 's1/t2', kind: 'negative_loss', state: 'open', area: { site: 's1', transformer: 't2' }, modelled: { site: 's1', transformer: 't2' }, evidence: [],
      loss: [{ interval: '1h', start: T0 + 3 * H, end: T0 + 4 * H, supplyKwh: 100, salesKwh: 105, lossPct: -5 }], firstAt: T0 + 4 * H,
    });
    expect(opened!.message).toBe('area s1/t2 sold more than it was supplied: loss -5.00 % in the hour from 2026-11-02T03:00Z (supply 100 kWh, sales 105 kWh): a customer or meter under the wrong transformer, or a wrong CT ratio');
    // the same hour again adds nothing; the next negative hour is more evidence on the same finding
    expect(run(findings, [fig('t2', 3, 100, 105)], ids)).toEqual([]);
    expect(run(findings, [fig('t2', 4, 100, 104)], ids)).toMatchObject([{ id: 'F1', state: 'open', loss: [{ lossPct: -5 }, { lossPct: -4 }], lastAt: T0 + 5 * H }]);
    // a normal hour older than the last evidence does not resolve it; one after it does
    expect(run(findings, [fig('t2', 2, 100, 97)], ids)).toEqual([]);
    expect(run(findings, [fig('t2', 5, 100, 97)], ids)).toMatchObject([{ id: 'F1', state: 'resolved', resolvedBy: 'system', resolvedAt: T0 + 40 * H, comment: 'loss back to 3.00 % in the hour from 2026-11-02T05:00Z' }]);
    // negative again: a new finding
    expect(run(findings, [fig('t2', 6, 100, 103)], ids)).toMatchObject([{ id: 'F2', state: 'open' }]);
    // the last negative hour computed again after a correction, now normal: resolved
    expect(run(findings, [fig('t2', 6, 100, 98)], ids)).toMatchObject([{ id: 'F2', state: 'resolved' }]);
  });

  it('in one batch of hours: resolved and opened again are both handed back, in order', () => {
    const findings = new Map<string, Finding>();
    const out = run(findings, [fig('t2', 2, 100, 103), fig('t2', 0, 100, 105), fig('t2', 1, 100, 97)], { n: 0 });
    expect(out.map((f) => [f.id, f.state, f.loss!.map((e) => (e.start - T0) / H)])).toEqual([
      ['F1', 'resolved', [0]],
      ['F2', 'open', [2]],
    ]);
  });
});
