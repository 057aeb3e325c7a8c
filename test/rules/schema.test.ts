import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_RULES, parseRules, ruleCovers, rulesFromYaml, rulesForDevice, scopeMatches, staleAfterMs, type Rule, type ThresholdRule } from '../../server/rules/index.ts';
import type { DevicePlace } from '../../contract/index.ts';

describe('rules file', () => {
  it('the built-in defaults validate and carry the GB/T and State Grid numbers', () => {
    const r = parseRules({});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.rules.map((x) => x.id)).toEqual(DEFAULT_RULES.map((x) => x.id));
    const dev = r.rules.find((x) => x.id === 'u-deviation') as ThresholdRule;
    expect(dev.evaluate).toBe('mean1m');
    expect(dev.levels.hi?.value).toBe(235.4); // 220 V + 7 %
    expect(dev.levels.lo?.value).toBe(198); // 220 V − 10 %
    const load = r.rules.find((x) => x.id === 'tx-load') as ThresholdRule;
    expect([load.levels.hi?.value, load.levels.hihi?.value, load.onDelayS]).toEqual([80, 100, 7200]);
    const low = r.rules.find((x) => x.id === 'u-low-sustained') as ThresholdRule;
    expect([low.levels.lo?.value, low.onDelayS]).toEqual([198, 3600]);
    const f = r.rules.find((x) => x.id === 'f-deviation') as ThresholdRule;
    expect([f.levels.lo?.value, f.levels.hi?.value]).toEqual([49.8, 50.2]);
    const ub = r.rules.find((x) => x.id === 'u-unbalance');
    expect(ub?.kind === 'unbalance' && [ub.normal.limitPct, ub.shortTime.limitPct]).toEqual([2, 4]);
    expect(Object.isFrozen(r.rules) && Object.isFrozen(r.rules[0]) && Object.isFrozen(dev.levels)).toBe(true);
  });

  it('the example file validates', () => {
    const rules = rulesFromYaml(readFileSync(new URL('../../server/rules/rules.example.yaml', import.meta.url), 'utf8'));
    const dev = rules.find((x) => x.id === 'u-deviation') as ThresholdRule;
    expect(dev.levels.hi?.value).toBe(233); // overridden
    expect(dev.levels.lo?.value).toBe(198); // kept from the default
    expect(rules.find((x) => x.id === 'tx-load')?.kind === 'threshold' && (rules.find((x) => x.id === 'tx-load') as ThresholdRule).onDelayS).toBe(3600);
    expect(rules.some((x) => x.id === 'l-102-2-jump')).toBe(true);
    // the 10 kV point has its own voltage rule; the 220 V one leaves it out
    const hv: DevicePlace = { site: 'cd-west', room: 'r-201', transformer: 't-201-1', line: '', device: 'm-201-hv', role: 'transformer' };
    const voltage = rulesForDevice(rules, 'm-201-hv', hv).filter((x) => x.id.startsWith('u-deviation')).map((x) => x.id);
    expect(voltage).toEqual(['u-deviation-10kv']);
  });

  it('every number of a default can be overridden by id, and a default switched off', () => {
    const r = parseRules({
      rules: [
        { id: 'tx-load', onDelayS: 600, levels: { hihi: { value: 110 } } },
        { id: 'load-anomaly', enabled: false },
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const load = r.rules.find((x) => x.id === 'tx-load') as ThresholdRule;
    expect(load.onDelayS).toBe(600);
    expect(load.levels.hihi).toEqual({ value: 110, severity: 2 });
    expect(load.levels.hi).toEqual({ value: 80, severity: 3 });
    expect(r.rules.find((x) => x.id === 'load-anomaly')?.enabled).toBe(false);
  });

  it('reports every error at once, located by rule id', () => {
    const doc = parseYaml(`
useDefaults: false
rules:
  - id: ok
    kind: threshold
    quantity: ua
    levels: { hi: { value: 240 } }
  - id: u-high
    kind: threshold
    quantity: ua
    levels: { hi: { value: "high" }, lo: { value: 180, severity: urgent } }
    colour: red
  - id: u-high
    kind: stale
  - id: order
    kind: threshold
    quantity: [ua, volts]
    levels: { hi: { value: 200 }, lo: { value: 210 } }
  - id: bad kind
    kind: magic
  - kind: rate_of_change
    id: roc
    quantity: p
    change: {}
  - id: tx-load
    onDelayS: -1
`);
    const r = parseRules(doc);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'rule "u-high" (rules[2]).id: duplicate rule id (first at rules[1])',
      'rule "u-high" (rules[1]).levels.hi.value: expected number, received string',
      'rule "u-high" (rules[1]).levels.lo.severity: expected a severity: 1..4 or critical | high | medium | low',
      'rule "u-high" (rules[1]): Unrecognized key: "colour"',
      'rule "order" (rules[3]).quantity[1]: expected a canonical quantity (contract/quantities.ts)',
      'rule "bad kind" (rules[4]).kind: expected one of threshold, rate_of_change, stale, unbalance, anomaly, outage, call, voltage_loss, current_loss, reverse_flow, counter_stuck, counter_backwards, off_hours, line_loss',
      'rule "roc" (rules[5]).change: at least one of pct, abs is required',
      // not a default without useDefaults, so a new rule without a kind
      'rule "tx-load" (rules[6]).kind: expected one of threshold, rate_of_change, stale, unbalance, anomaly, outage, call, voltage_loss, current_loss, reverse_flow, counter_stuck, counter_backwards, off_hours, line_loss',
    ]);
    expect(r.errors[1]?.ruleId).toBe('u-high');
  });

  it('an override of a default is reported at its place in the file', () => {
    const r = parseRules({ rules: [{ id: 'call' }, { id: 'tx-load', onDelayS: -1, levels: { hi: { value: '80' } } }] });
    expect(!r.ok && r.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'rule "tx-load" (rules[1], merged onto the default).levels.hi.value: expected number, received string',
      'rule "tx-load" (rules[1], merged onto the default).onDelayS: Too small: expected number to be >=0',
    ]);
  });

  it('a kind named like an Object property (toString, constructor, __proto__) is an unknown kind, not a crash', () => {
    const r = parseRules({ useDefaults: false, rules: [{ id: 'a', kind: 'toString' }, { id: 'b', kind: 'constructor' }, { id: 'c', kind: '__proto__' }] });
    const kinds = 'expected one of threshold, rate_of_change, stale, unbalance, anomaly, outage, call, voltage_loss, current_loss, reverse_flow, counter_stuck, counter_backwards, off_hours, line_loss';
    expect(!r.ok && r.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      `rule "a" (rules[0]).kind: ${kinds}`,
      `rule "b" (rules[1]).kind: ${kinds}`,
      `rule "c" (rules[2]).kind: ${kinds}`,
    ]);
  });

  it('checks the order of levels and the deadband against the band', () => {
    const r = parseRules({
      useDefaults: false,
      rules: [{ id: 'x', kind: 'threshold', quantity: 'ua', levels: { lolo: { value: 190 }, lo: { value: 180 }, hi: { value: 240 } }, deadband: 40 }],
    });
    expect(!r.ok && r.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'rule "x" (rules[0]).levels.lo.value: must be greater than lolo (190); levels are ordered lolo < lo < hi < hihi',
      'rule "x" (rules[0]).deadband: deadband 40 must be less than half the lo..hi band (180..240)',
    ]);
  });

  it('accepts severity names and numbers; rejects unknown top-level keys and broken YAML', () => {
    const r = parseRules({ useDefaults: false, rules: [{ id: 'c', kind: 'call', severity: 'high' }, { id: 'd', kind: 'call', severity: 4 }] });
    expect(r.ok && r.rules.map((x) => (x.kind === 'call' ? x.severity : 0))).toEqual([2, 4]);
    const bad = parseRules({ rulez: [] });
    expect(!bad.ok && bad.errors.map((e) => e.path)).toEqual(['(root)']);
    expect(() => rulesFromYaml('rules: [')).toThrow(/GW_ERR_RULES_INVALID|YAML/);
    try {
      rulesFromYaml('rules: [{ id: x, kind: nope }]', 'rules.yaml');
    } catch (e) {
      expect((e as { code: string }).code).toBe('GW_ERR_RULES_INVALID');
      expect((e as Error).message).toContain('rules.yaml');
    }
  });
});

describe('scope', () => {
  const line: DevicePlace = { site: 's1', room: 'r1', transformer: 't1', line: 'l1', device: 'm1', role: 'line' };
  it('matches all keys given, any value of a list', () => {
    expect(scopeMatches('all', 'm1', line)).toBe(true);
    expect(scopeMatches({ site: ['s1'], transformer: ['t1', 't2'] }, 'm1', line)).toBe(true);
    expect(scopeMatches({ site: ['s1'], room: ['r2'] }, 'm1', line)).toBe(false);
    expect(scopeMatches({ role: ['transformer'] }, 'm1', line)).toBe(false);
    // outside the topology: only "all" or an explicit device list
    expect(scopeMatches({ device: ['x'] }, 'x', undefined)).toBe(true);
    expect(scopeMatches({ site: ['s1'] }, 'x', undefined)).toBe(false);
  });
  it('rulesForDevice keeps enabled, non-call rules in scope', () => {
    const r = parseRules({ rules: [{ id: 'load-anomaly', enabled: false }] });
    if (!r.ok) throw new Error('defaults');
    expect(rulesForDevice(r.rules, 'm1', line).map((x) => x.id)).toEqual([
      'u-deviation', 'u-low-sustained', 'f-deviation', 'u-unbalance', 'comm-loss', 'outage', 'spool-loss',
      'meter-voltage-loss', 'meter-current-loss', 'meter-reverse-flow', 'meter-counter-stuck', 'meter-counter-backwards', 'meter-clock-drift', 'meter-phase-sequence', 'line-load',
    ]);
  });
  it('rulesForDevice: an agent spool pseudo-device is not watched for stale data (it reports on change), a meter outside the topology is', () => {
    const r = parseRules({});
    if (!r.ok) throw new Error('defaults');
    const spool = rulesForDevice(r.rules, 'room-12.spool', undefined).map((x) => x.id);
    expect(spool).toContain('spool-loss');
    expect(spool).not.toContain('comm-loss');
    expect(rulesForDevice(r.rules, 'm-stray', undefined).map((x) => x.id)).toContain('comm-loss');
  });
  it('a room sensor is watched by sensor-comm-loss (minutes), not by the meters\' comm-loss (seconds)', () => {
    const r = parseRules({});
    if (!r.ok) throw new Error('defaults');
    const sensor: DevicePlace = { site: 's1', room: 'r1', transformer: '', line: '', device: 'door-1', role: 'sensor' };
    const stale = (d: string, p: DevicePlace | undefined) => rulesForDevice(r.rules, d, p).filter((x) => x.kind === 'stale');
    expect(stale('door-1', sensor).map((x) => [x.id, x.kind === 'stale' && staleAfterMs(x)])).toEqual([['sensor-comm-loss', 180_000]]);
    expect(stale('m1', line).map((x) => [x.id, x.kind === 'stale' && staleAfterMs(x)])).toEqual([['comm-loss', 10_000]]);
    expect(stale('m-stray', undefined).map((x) => x.id)).toEqual(['comm-loss']);
  });
  it('except leaves devices out of a scope; outside the topology only a device list leaves a device out; null removes a default except', () => {
    const r = parseRules({
      useDefaults: false,
      rules: [
        { id: 'a', kind: 'stale', except: { room: 'r1', role: 'line' } },
        { id: 'b', kind: 'stale', scope: { site: 's1' }, except: { device: ['m1', 'x'] } },
      ],
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const [a, b] = r.rules as [Rule, Rule];
    expect(ruleCovers(a, 'm1', line)).toBe(false);
    expect(ruleCovers(a, 'm2', { ...line, device: 'm2', role: 'transformer' })).toBe(true);
    expect(ruleCovers(a, 'm3', { ...line, device: 'm3', room: 'r2' })).toBe(true);
    expect(ruleCovers(a, 'x', undefined)).toBe(true);
    expect(ruleCovers(b, 'm1', line)).toBe(false);
    expect(ruleCovers(b, 'm2', { ...line, device: 'm2' })).toBe(true);
    const off = parseRules({ rules: [{ id: 'comm-loss', except: null }] });
    if (!off.ok) throw new Error(JSON.stringify(off.errors));
    const sensor: DevicePlace = { site: 's1', room: 'r1', transformer: '', line: '', device: 'door-1', role: 'sensor' };
    expect(rulesForDevice(off.rules, 'door-1', sensor).filter((x) => x.kind === 'stale').map((x) => x.id)).toEqual(['comm-loss', 'sensor-comm-loss']);
    const bad = parseRules({ rules: [{ id: 'comm-loss', except: { role: 'meter' } }] });
    expect(!bad.ok && bad.errors.map((e) => e.path)).toEqual(['rule "comm-loss" (rules[0], merged onto the default).except.role[0]']);
  });
});
