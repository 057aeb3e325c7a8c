/**
 * The built-in rules for what rooms report, on replayed sensor feeds: top oil
 * at 96 °C raises `t-oil` high after its 60-s on-delay (85 °C medium first),
 * a hot winding `t-winding`, smoke and water at the report, room temperature
 * after 5 min; each clears at the reading its off-delay says. And they are
 * scoped to room sensors: a meter's readings never reach them.
 */
import { describe, expect, it } from 'vitest';
import type { DevicePlace } from '../../contract/index.ts';
import { parseRules, rulesForDevice, type Rule } from '../../server/rules/index.ts';
import { T0, brief, drive } from './helpers.ts';

const S = 1000;
const rules = (() => {
  const r = parseRules({});
  if (!r.ok) throw new Error('defaults');
  return r.rules;
})();
const byId = (id: string): Rule => rules.find((r) => r.id === id)!;

describe('room-equipment defaults', () => {
  it('t-oil: 88 °C raises medium after 60 s, 96 °C high after 60 s more; back under 82 °C clears after 300 s', () => {
    // a report every 10 s: 0–50 s 60 °C, 60–170 s 88 °C, 180–300 s 96 °C, then 80 °C
    const oil = (t: number) => (t < 60 ? 60 : t < 180 ? 88 : t < 310 ? 96 : 80);
    const samples = Array.from({ length: 70 }, (_, k) => ({ t: T0 + k * 10 * S, values: { t_oil: oil(k * 10) } }));
    const { events } = drive(byId('t-oil'), samples);
    expect(brief(events)).toEqual([
      ['active', 'hi', 120 * S],
      ['active', 'hihi', 240 * S],
      ['inactive', 'hihi', 610 * S],
    ]);
    expect(events[1]).toMatchObject({ severity: 2, value: 96, limit: 95 });
  });

  it('t-winding, smoke, water, room temperature: raised when their criterion has held its on-delay', () => {
    const feed = (q: string, v: (t: number) => number, n: number) => Array.from({ length: n }, (_, k) => ({ t: T0 + k * 10 * S, values: { [q]: v(k * 10) } }));
    expect(brief(drive(byId('t-winding'), feed('t_winding', (t) => (t >= 30 ? 112 : 90), 12)).events)).toEqual([['active', 'hi', 90 * S]]);
    expect(brief(drive(byId('smoke'), feed('smoke', (t) => (t >= 20 && t < 60 ? 1 : 0), 12)).events)).toEqual([
      ['active', 'hi', 20 * S],
      ['inactive', 'hi', 90 * S],
    ]);
    expect(drive(byId('water'), feed('water', () => 1, 2)).events[0]).toMatchObject({ to: 'active', severity: 2 });
    expect(brief(drive(byId('room-temp'), feed('temp', (t) => (t >= 10 ? 43 : 30), 40)).events)).toEqual([['active', 'hi', 310 * S]]);
  });

  it('room rules reach room sensors only; meter-health rules reach meters only', () => {
    const sensor: DevicePlace = { site: 's', room: 'r', transformer: '', line: '', device: 'env', role: 'sensor' };
    const meter: DevicePlace = { site: 's', room: 'r', transformer: 't', line: 'l', device: 'm', role: 'line' };
    const ids = (p: DevicePlace) => rulesForDevice(rules, p.device, p).map((r) => r.id);
    expect(ids(sensor)).toEqual(expect.arrayContaining(['smoke', 'water', 'door-open', 'room-temp', 'room-humidity', 't-oil', 't-winding']));
    expect(ids(sensor)).not.toContain('meter-voltage-loss');
    expect(ids(meter)).toEqual(expect.arrayContaining(['meter-voltage-loss', 'meter-counter-stuck', 'line-load']));
    expect(ids(meter)).not.toContain('t-oil');
  });
});
