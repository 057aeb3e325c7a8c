/**
 * The line_loss rule kind: raised and cleared at the exact figure.
 */
import { describe, expect, it } from 'vitest';
import { step, type RuleState } from '../../server/rules/index.ts';
import { LineLossRuleSchema, lineLossInput } from '../../server/rules/kinds/line-loss.ts';

const Q = 900_000;
const T0 = Date.UTC(2026, 10, 1);
const fig = (i: number, lossPct: number | null, complete = lossPct !== null, interval = '15m') =>
  lineLossInput({ interval, start: T0 + i * Q, end: T0 + (i + 1) * Q, complete, lossPct, missing: complete ? [] : ['m7'], meters: 3 });

/** Runs figures through a rule; the index and direction of each transition. */
function run(doc: Record<string, unknown>, figures: ReturnType<typeof fig>[]): Array<[number, string, string]> {
  const rule = LineLossRuleSchema.parse({ id: 'r', kind: 'line_loss', ...doc });
  let st: RuleState | undefined;
  const out: Array<[number, string, string]> = [];
  figures.forEach((f, i) => {
    const r = step(st, f, rule as never, f.ts + 60_000);
    st = r.state;
    if (r.transition) out.push([i, r.transition.to, r.transition.message]);
  });
  return out;
}

describe('line_loss rule', () => {
  it('high: raised at the 4th consecutive interval above 10 %, an incomplete one in between neither counts nor breaks, cleared at the first inside', () => {
    const t = run({ condition: 'high', limitPct: 10, intervals: 4 }, [fig(0, 12), fig(1, 10), fig(2, 11), fig(3, 12.5), fig(4, null), fig(5, 13), fig(6, 14), fig(7, 15), fig(8, 9.99)]);
    expect(t).toEqual([
      [6, 'active', 'line loss 14 % above 10 % for 4 intervals of 15m'],
      [8, 'inactive', 'line loss back inside the limit (9.99 %)'],
    ]);
  });

  it('negative: raised at the first interval below −1 %, with the figure as value', () => {
    const rule = LineLossRuleSchema.parse({ id: 'n', kind: 'line_loss', condition: 'negative', limitPct: -1, interval: '1h' });
    const r = step(undefined, fig(0, -5, true, '1h'), rule as never, T0 + Q);
    expect(r.transition).toMatchObject({ to: 'active', level: 'negative', value: -5, limit: -1, message: 'line loss -5 % below -1 % (1h): metering or topology error' });
    // −1 % exactly is inside
    expect(step(r.state, fig(1, -1, true, '1h'), rule as never, T0 + 2 * Q).transition).toMatchObject({ to: 'inactive' });
    // figures of another interval length are not its
    expect(step(undefined, fig(0, -5), rule as never, T0).transition).toBeUndefined();
  });

  it('incomplete: raised on an incomplete day, naming the missing meters; cleared by a complete one', () => {
    const t = run({ condition: 'incomplete', interval: '1d' }, [fig(0, null, false, '1d'), fig(1, 3, true, '1d')]);
    expect(t).toEqual([
      [0, 'active', 'line-loss data incomplete (1d): missing m7'],
      [1, 'inactive', 'line-loss data complete again'],
    ]);
  });

  it('incomplete: an interval in which no meter reported at all is no figure', () => {
    const silent = lineLossInput({ interval: '1d', start: T0, end: T0 + 96 * Q, complete: false, lossPct: null, missing: ['a', 'b', 'c'], meters: 3 });
    const rule = LineLossRuleSchema.parse({ id: 'i', kind: 'line_loss', condition: 'incomplete', interval: '1d' });
    expect(step(undefined, silent, rule as never, T0 + 97 * Q).transition).toBeUndefined();
  });

  it('incomplete: an area that cannot have a figure by its make-up (no sales meters, no supply) is no figure, not missing data', () => {
    const rule = LineLossRuleSchema.parse({ id: 'i', kind: 'line_loss', condition: 'incomplete', interval: '1d' });
    const noSales = lineLossInput({ interval: '1d', start: T0, end: T0 + 96 * Q, complete: false, lossPct: null, missing: [], meters: 1 });
    expect(step(undefined, noSales, rule as never, T0 + 97 * Q).transition).toBeUndefined();
  });

  it('a figure computed again for an interval already judged is not counted twice', () => {
    expect(run({ condition: 'high', limitPct: 10, intervals: 2 }, [fig(0, 12), fig(0, 12), fig(0, 12)])).toEqual([]);
    expect(run({ condition: 'high', limitPct: 10, intervals: 2 }, [fig(0, 12), fig(1, 12)])).toHaveLength(1);
    // an older interval is not judged; the last one is once late readings complete it
    expect(run({ condition: 'high', limitPct: 10, intervals: 1 }, [fig(1, 9), fig(0, 12)])).toEqual([]);
    expect(run({ condition: 'high', limitPct: 10, intervals: 1 }, [fig(1, null), fig(1, 12)]).map((t) => t[0])).toEqual([1]);
  });
});
