/**
 * The rule kind registry: each descriptor is filed under its own kind, its
 * schema parses only that kind, and what the alarm service asks of it
 * (sampled, site or device, most urgent severity) is what each kind is.
 */
import { describe, expect, it } from 'vitest';
import {
  KINDS,
  RULE_KINDS,
  conditionActive,
  initialState,
  isSampled,
  isSiteKind,
  mostUrgentSeverity,
  parseRules,
  type Rule,
} from '../../server/rules/index.ts';
import { rule, T0 } from './helpers.ts';

/** A minimal valid rule of every kind. */
const MINIMAL: Record<string, Record<string, unknown>> = {
  threshold: { quantity: 'ua', levels: { hi: { value: 240, severity: 'high' }, hihi: { value: 250, severity: 'critical' } } },
  rate_of_change: { quantity: 'p', change: { pct: 20 } },
  stale: {},
  unbalance: {},
  anomaly: { quantity: 'p' },
  outage: {},
  call: {},
  voltage_loss: {},
  current_loss: {},
  reverse_flow: {},
  counter_stuck: {},
  counter_backwards: {},
  off_hours: {},
  line_loss: { condition: 'high' },
};

describe('rule kind registry', () => {
  it('lists the kinds in their order, each descriptor under its own name', () => {
    expect(RULE_KINDS).toEqual([
      'threshold', 'rate_of_change', 'stale', 'unbalance', 'anomaly', 'outage', 'call',
      'voltage_loss', 'current_loss', 'reverse_flow', 'counter_stuck', 'counter_backwards', 'off_hours', 'line_loss',
    ]);
    for (const k of RULE_KINDS) expect(KINDS[k].kind).toBe(k);
    expect(Object.keys(MINIMAL).sort()).toEqual([...RULE_KINDS].sort());
  });

  it("each kind's schema takes its own kind only, and a fresh state is of that kind with no condition", () => {
    for (const k of RULE_KINDS) {
      const doc = { id: `r-${k}`, kind: k, ...MINIMAL[k] };
      expect(KINDS[k].schema.safeParse(doc).success).toBe(true);
      const other = RULE_KINDS.find((x) => x !== k)!;
      expect(KINDS[k].schema.safeParse({ ...doc, kind: other }).success).toBe(false);
      const st = initialState(rule(doc), T0);
      expect(st.kind).toBe(k);
      expect(conditionActive(st)).toBe(false);
    }
  });

  it('answers what the alarm service asks: sampled, site kinds, most urgent severity', () => {
    expect(RULE_KINDS.filter(isSampled)).toEqual([
      'threshold', 'rate_of_change', 'unbalance', 'anomaly', 'voltage_loss', 'current_loss', 'reverse_flow', 'counter_stuck', 'counter_backwards', 'off_hours',
    ]);
    expect(RULE_KINDS.filter(isSiteKind)).toEqual(['call', 'line_loss']);
    expect(isSampled('no-such-kind')).toBe(false);
    expect(isSiteKind('toString')).toBe(false);
    const sev = (k: string, extra: Record<string, unknown> = {}) => mostUrgentSeverity(rule<Rule>({ id: 'x', kind: k, ...MINIMAL[k], ...extra }));
    expect(sev('threshold')).toBe(1);
    expect(sev('unbalance', { shortTime: { severity: 'high' } })).toBe(2);
    expect(sev('stale', { severity: 'low' })).toBe(4);
    expect(sev('call')).toBe(1);
  });

  it('a semantic check of one kind reports through the rules file like a schema error', () => {
    const r = parseRules({ useDefaults: false, rules: [{ id: 'u', kind: 'unbalance', normal: { limitPct: 5 }, shortTime: { limitPct: 4 } }, { id: 'z', kind: 'anomaly', quantity: 'p', zLimit: 2, zDeadband: 2 }] });
    expect(!r.ok && r.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'rule "u" (rules[0]).shortTime.limitPct: must be greater than normal.limitPct (5)',
      'rule "z" (rules[1]).zDeadband: must be less than zLimit (2)',
    ]);
  });
});
