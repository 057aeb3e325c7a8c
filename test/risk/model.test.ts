/**
 * The risk-model file: the shipped config/risk.yaml validates and lists every
 * indicator of the catalogue; a hostile file is refused with every error
 * located by indicator id (unknown indicator, weights that do not sum to 1,
 * negative and inverted bounds, inverted thresholds); loadRiskModel throws the
 * ConfigError that stops the server at start.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../server/errors.ts';
import { INDICATOR_IDS, INDICATORS, formatRiskIssue, loadRiskModel, parseRiskModel, riskModelFromYaml, scoreStation } from '../../server/risk/index.ts';

const SHIPPED = fileURLToPath(new URL('../../config/risk.yaml', import.meta.url));

const base = () => ({
  thresholds: { yellow: 20, red: 40 },
  indicators: [
    { id: 'repair-calls-per-1000', weight: 0.5, good: 0.5, bad: 3 },
    { id: 'ack-time-mean', weight: 0.3, good: 5, bad: 30 },
    { id: 'voltage-qualification', weight: 0.2, good: 99.5, bad: 95 },
  ],
});

describe('risk model file', () => {
  it('the shipped model validates, names every indicator of the catalogue and weights only those with an input', async () => {
    const m = await loadRiskModel(SHIPPED);
    expect(m.indicators.map((i) => i.id).sort()).toEqual([...INDICATOR_IDS].sort());
    expect(Math.abs(m.indicators.reduce((s, i) => s + i.weight, 0) - 1)).toBeLessThanOrEqual(0.001);
    for (const i of m.indicators) if (!INDICATORS[i.id].available) expect(i.weight, i.id).toBe(0);
    expect(m).toMatchObject({ computeAt: '06:00', timezone: '+08:00', windowDays: 30, thresholds: { yellow: 14, red: 30 } });
    expect(Object.isFrozen(m.indicators[0])).toBe(true);
  });

  it('shipped model: repair calls or acknowledgement time at their bad value alone give yellow', async () => {
    const m = await loadRiskModel(SHIPPED);
    const good = Object.fromEntries(m.indicators.map((i) => [i.id, i.good]));
    for (const id of ['repair-calls-per-1000', 'ack-time-mean'] as const) {
      const r = scoreStation(m, { ...good, [id]: m.indicators.find((i) => i.id === id)!.bad });
      expect(r, id).toMatchObject({ code: 'yellow', driving: id, coverage: 1 });
    }
    expect(scoreStation(m, good)).toMatchObject({ score: 0, code: 'green', driving: null });
  });

  it('fills defaults and the catalogue dimension and direction', () => {
    const r = parseRiskModel(base());
    if (!r.ok) throw new Error(r.errors.map(formatRiskIssue).join('\n'));
    expect(r.model.hysteresis).toEqual({ margin: 5, enterDays: 1, leaveDays: 3 });
    expect(r.model.minCoverage).toBe(0.5);
    expect(r.model.indicators[2]).toMatchObject({ id: 'voltage-qualification', dimension: 'handling', direction: 'lower-is-worse', available: true });
    const moved = parseRiskModel({ ...base(), indicators: base().indicators.map((i) => (i.id === 'ack-time-mean' ? { ...i, dimension: 'handling' } : i)) });
    expect(moved.ok && moved.model.indicators[1]!.dimension).toBe('handling');
  });

  it('a hostile file: every error at once, located by indicator id', () => {
    const r = parseRiskModel({
      thresholds: { yellow: 50, red: 30 },
      hysteresis: { margin: -1 },
      indicators: [
        { id: 'repair-calls-per-1000', weight: 0.5, good: 3, bad: 0.5 },
        { id: 'happiness-index', weight: 0.2, good: 0, bad: 1 },
        { id: 'ack-time-mean', weight: 0.2, good: -5, bad: 30 },
        { id: 'voltage-qualification', weight: 0.2, good: 99.5, bad: 95, direction: 'higher-is-worse' },
        { id: 'escalations', weight: 0.1, good: 0, bad: 5, colour: 'red' },
        { id: 'ack-time-mean', weight: 0, good: 5, bad: 30 },
        { weight: 0.1, good: 0, bad: 1 },
      ],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const lines = r.errors.map(formatRiskIssue);
    const has = (re: RegExp) => expect(lines.some((l) => re.test(l)), `${re}\n${lines.join('\n')}`).toBe(true);
    has(/^indicator "repair-calls-per-1000" \(indicators\[0\]\)\.bad: must be above good \(3\)/);
    has(/^indicator "happiness-index" \(indicators\[1\]\): unknown indicator; known: repair-calls-per-1000, /);
    has(/^indicator "ack-time-mean" \(indicators\[2\]\)\.good: must not be negative/);
    has(/^indicator "voltage-qualification" \(indicators\[3\]\)\.direction: must be lower-is-worse/);
    has(/^indicator "escalations" \(indicators\[4\]\): .*colour/);
    has(/^indicator "ack-time-mean" \(indicators\[5\]\): duplicate of indicators\[2\]/);
    has(/^indicators\[6\]\.id: /);
    has(/^indicators: weights sum to 1\.3, expected 1 \(± 0\.001\): repair-calls-per-1000 0\.5, happiness-index 0\.2, /);
    has(/^thresholds: red \(30\) must be above yellow \(50\)/);
    has(/^hysteresis\.margin: must not be negative/);
    expect(r.errors.find((e) => e.path.startsWith('indicator "happiness-index"'))?.indicatorId).toBe('happiness-index');
  });

  it('weights within ± 0.001 of 1 pass; 0.998 does not', () => {
    const w = (a: number) => ({ ...base(), indicators: base().indicators.map((i, k) => (k === 0 ? { ...i, weight: a } : i)) });
    expect(parseRiskModel(w(0.5009)).ok).toBe(true);
    const r = parseRiskModel(w(0.498));
    expect(r.ok ? [] : r.errors.map(formatRiskIssue)).toEqual([
      'indicators: weights sum to 0.998, expected 1 (± 0.001): repair-calls-per-1000 0.498, ack-time-mean 0.3, voltage-qualification 0.2',
    ]);
  });

  it('thresholds and percentages out of range, bad times, no indicators', () => {
    const r = parseRiskModel({
      computeAt: '25:00', timezone: 'CST', thresholds: { yellow: -10, red: 140 },
      indicators: [{ id: 'voltage-qualification', weight: 1, good: 101, bad: 95 }],
    });
    const lines = r.ok ? [] : r.errors.map(formatRiskIssue);
    expect(lines).toEqual(expect.arrayContaining([
      'computeAt: expected HH:MM (00:00–23:59)',
      'timezone: expected a UTC offset ±HH:MM',
      'indicator "voltage-qualification" (indicators[0]).good: must be a percentage, 0–100',
    ]));
    const t = parseRiskModel({ ...base(), thresholds: { yellow: -10, red: 140 } });
    expect(t.ok ? [] : t.errors.map(formatRiskIssue)).toEqual(['thresholds.yellow: must be a score, 0–100', 'thresholds.red: must be a score, 0–100']);
    const none = parseRiskModel({ thresholds: { yellow: 20, red: 40 }, indicators: [] });
    expect(none.ok ? [] : none.errors.map(formatRiskIssue)).toEqual(['indicators: at least one indicator']);
    expect(parseRiskModel('just text').ok).toBe(false);
    expect(parseRiskModel(null).ok).toBe(false);
  });

  it('loadRiskModel: a ConfigError with every issue for a bad file, a missing file or broken YAML', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-risk-'));
    const bad = path.join(dir, 'risk.yaml');
    writeFileSync(bad, 'thresholds: { yellow: 20, red: 40 }\nindicators:\n  - { id: nope, weight: 1, good: 0, bad: 1 }\n  - { id: escalations, weight: 0, good: 5, bad: -1 }\n');
    const e = await loadRiskModel(bad).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('GW_ERR_CONFIG_INVALID');
    expect((e as ConfigError).issues).toHaveLength(3);
    expect((e as ConfigError).message).toContain(`invalid risk model ${bad}:`);
    expect((e as ConfigError).message).toContain('indicator "nope" (indicators[0]): unknown indicator');
    const missing = await loadRiskModel(path.join(dir, 'absent.yaml')).catch((x: unknown) => x);
    expect(missing).toBeInstanceOf(ConfigError);
    expect(() => riskModelFromYaml('indicators: [\n')).toThrow(/YAML/);
  });
});
