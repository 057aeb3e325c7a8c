import { describe, expect, it } from 'vitest';
import type { DevicePlace } from '../../contract/index.ts';
import { currentUnbalance, loadRate, voltageUnbalance, withDerived } from '../../server/derive.ts';

const line: DevicePlace = { site: 's', room: 'r', transformer: 't', line: 'l', device: 'd', role: 'line', ratedCurrentA: 200 };
const trafo: DevicePlace = { site: 's', room: 'r', transformer: 't', line: '', device: 'd', role: 'transformer', ratedKva: 630 };

/** negative/positive sequence ratio from complex phasors, for checking the magnitude formula */
function seqRatio(mags: [number, number, number], angles: [number, number, number]): number {
  const ph = mags.map((m, i) => [m * Math.cos((angles[i]! * Math.PI) / 180), m * Math.sin((angles[i]! * Math.PI) / 180)] as [number, number]);
  const rot = (z: [number, number], deg: number): [number, number] => {
    const r = (deg * Math.PI) / 180;
    return [z[0] * Math.cos(r) - z[1] * Math.sin(r), z[0] * Math.sin(r) + z[1] * Math.cos(r)];
  };
  const add = (...zs: [number, number][]) => zs.reduce((a, z) => [a[0] + z[0], a[1] + z[1]], [0, 0]);
  const pos = add(ph[0]!, rot(ph[1]!, 120), rot(ph[2]!, 240));
  const neg = add(ph[0]!, rot(ph[1]!, 240), rot(ph[2]!, 120));
  return (Math.hypot(...neg) / Math.hypot(...pos)) * 100;
}

describe('derived quantities', () => {
  it('voltage unbalance is 0 for a balanced system', () => {
    expect(voltageUnbalance({ uab: 400, ubc: 400, uca: 400 })).toBe(0);
  });

  it('voltage unbalance from line-line magnitudes equals the negative-sequence ratio (GB/T 15543)', () => {
    // line-to-line phasors of an unbalanced phase system
    const ua: [number, number] = [230, 0];
    const ub: [number, number] = [215 * Math.cos((-118 * Math.PI) / 180), 215 * Math.sin((-118 * Math.PI) / 180)];
    const uc: [number, number] = [236 * Math.cos((121 * Math.PI) / 180), 236 * Math.sin((121 * Math.PI) / 180)];
    const sub = (a: [number, number], b: [number, number]): [number, number] => [a[0] - b[0], a[1] - b[1]];
    const ll = [sub(ua, ub), sub(ub, uc), sub(uc, ua)];
    const mags = ll.map((z) => Math.hypot(...z)) as [number, number, number];
    const angles = ll.map((z) => (Math.atan2(z[1], z[0]) * 180) / Math.PI) as [number, number, number];
    const expected = seqRatio(mags, angles);
    expect(voltageUnbalance({ uab: mags[0], ubc: mags[1], uca: mags[2] })).toBeCloseTo(expected, 2);
  });

  it('falls back to max deviation from the mean with phase voltages only', () => {
    expect(voltageUnbalance({ ua: 220, ub: 230, uc: 225 })).toBeCloseTo((5 / 225) * 100, 2);
  });

  it('current unbalance is (max − min) / max and undefined near zero load', () => {
    expect(currentUnbalance({ ia: 100, ib: 80, ic: 90 })).toBe(20);
    expect(currentUnbalance({ ia: 0.2, ib: 0, ic: 0.1 })).toBeUndefined();
  });

  it('load rate of a line is its largest phase current over its rating', () => {
    expect(loadRate({ ia: 100, ib: 150, ic: 120 }, line)).toBe(75);
  });

  it('load rate of a transformer is apparent power over rated kVA', () => {
    expect(loadRate({ s: 504 }, trafo)).toBe(80);
    expect(loadRate({ p: 300, q: 400 }, trafo)).toBeCloseTo(79.365, 3);
    expect(loadRate({ ua: 220, ub: 220, uc: 220, ia: 500, ib: 500, ic: 500 }, trafo)).toBeCloseTo(52.381, 3);
    expect(loadRate({ ua: 220 }, trafo)).toBeUndefined();
    expect(loadRate({ ia: 1 }, undefined)).toBeUndefined();
  });

  it('withDerived adds what it can and leaves the input alone', () => {
    const v = { ia: 100, ib: 80, ic: 90 };
    expect(withDerived(v, line)).toEqual({ ia: 100, ib: 80, ic: 90, load_rate: 50, i_unbalance: 20 });
    expect(v).toEqual({ ia: 100, ib: 80, ic: 90 });
  });
});
