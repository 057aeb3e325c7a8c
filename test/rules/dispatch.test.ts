/**
 * Dispatch by quantity: the alarm service (and the rules bench) skip a live
 * reading that carries none of the quantities a rule judges
 * (judgedQuantities). That is only right if the step would have changed
 * nothing: for every built-in rule that names its quantities, after any feed
 * of readings and ticks, a reading without them gives back the very same
 * state object (pure and in place) and no transition.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Values } from '../../contract/index.ts';
import { carriesAny, judgedQuantities, parseRules, step, stepOwned, tick, type Rule, type RuleState } from '../../server/rules/index.ts';
import { T0 } from './helpers.ts';

const S = 1000;
const rules = (() => {
  const r = parseRules({});
  if (!r.ok) throw new Error('defaults');
  return r.rules;
})();

const num = (min: number, max: number) => fc.double({ min, max, noNaN: true });
const arbValues: fc.Arbitrary<Values> = fc.record(
  {
    ua: fc.oneof(num(0, 260), fc.constant(30)), ub: num(180, 260), uc: num(180, 260),
    ia: fc.oneof(num(0, 600), fc.constant(0)), ib: num(0, 600), ic: num(0, 600),
    p: num(-5, 300), pa: num(-3, 100), f: num(49.6, 50.4), load_rate: num(0, 140), u_unbalance: num(0, 6),
    ep_imp: fc.constantFrom(100, 100, 100.5, 99), ep_exp: fc.constantFrom(5, 4), clock_offset: num(-600, 600),
    lost_readings: fc.integer({ min: 0, max: 3 }), temp: num(20, 50), humidity: num(40, 95), t_oil: num(40, 100),
    t_winding: num(50, 130), door: fc.constantFrom(0, 1), water: fc.constantFrom(0, 1), smoke: fc.constantFrom(0, 1),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Values>;
const arbFeed = fc.array(fc.record({ dt: fc.integer({ min: 1, max: 90 }), tick: fc.boolean(), values: arbValues }), { minLength: 1, maxLength: 120 });

describe('dispatch by quantity', () => {
  const named = rules.filter((r) => judgedQuantities(r) !== null);

  it('the built-in rules name what they judge; stale, outage and call do not', () => {
    expect(rules.filter((r) => judgedQuantities(r) === null).map((r) => r.kind).sort()).toEqual(['call', 'outage', 'stale', 'stale'].concat(rules.filter((r) => r.kind === 'line_loss').map(() => 'line_loss')).sort());
    expect(judgedQuantities(rules.find((r) => r.id === 'meter-voltage-loss')!)).toEqual(['ua', 'ub', 'uc']);
    expect(carriesAny({ temp: 20 }, ['ua', 'ub'])).toBe(false);
    expect(carriesAny({ ub: 0 }, ['ua', 'ub'])).toBe(true);
    expect(carriesAny({}, null)).toBe(true);
  });

  it.each(named.map((r) => [r.id, r] as const))('%s: a reading without its quantities changes nothing', (_id, rule: Rule) => {
    const qs = judgedQuantities(rule)!;
    fc.assert(
      fc.property(arbFeed, arbValues, (feed, other) => {
        let s: RuleState | undefined;
        let t = T0;
        for (const f of feed) {
          t += f.dt * S;
          s = (f.tick ? tick(s, rule, t) : step(s, { ts: t, values: f.values, q: 'good' }, rule, t)).state;
        }
        const without: Values = {};
        for (const [k, v] of Object.entries(other)) if (!qs.includes(k)) (without as Record<string, number>)[k] = v;
        const input = { ts: t + S, values: without, q: 'good' as const };
        const pure = step(s, input, rule, t + S);
        const before = JSON.stringify(s);
        const owned = stepOwned(s, input, rule, t + S);
        expect(pure.transition).toBeUndefined();
        expect(owned.transition).toBeUndefined();
        if (s !== undefined) {
          expect(pure.state).toBe(s);
          expect(owned.state).toBe(s);
          expect(JSON.stringify(s)).toBe(before);
        }
      }),
      { numRuns: 60 },
    );
  });
});
