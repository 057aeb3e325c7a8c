/**
 * Quantities the server derives from a reading and its place in the
 * topology (docs/contract.md, Quantities: load_rate, u_unbalance, i_unbalance).
 * Pure: no I/O, no clock.
 */
import type { DevicePlace, Values } from '../contract/index.ts';

/**
 * Voltage unbalance, %.
 *
 * GB/T 15543 defines it as the negative-sequence / positive-sequence ratio.
 * From the magnitudes of the three line-to-line voltages (which carry no
 * zero sequence) the ratio is exact (GB/T 15543-2008 Annex A; also
 * IEC 61000-4-30 §5.7.1):
 *   β = (a⁴ + b⁴ + c⁴) / (a² + b² + c²)²,  ε = √((1 − √(3 − 6β)) / (1 + √(3 − 6β))) × 100
 * With only phase-to-neutral magnitudes it falls back to the standard's
 * approximation, the largest deviation from the mean over the mean.
 */
export function voltageUnbalance(v: Values): number | undefined {
  const { uab, ubc, uca, ua, ub, uc } = v;
  if (uab !== undefined && ubc !== undefined && uca !== undefined && uab > 0 && ubc > 0 && uca > 0) {
    const s2 = uab ** 2 + ubc ** 2 + uca ** 2;
    const beta = (uab ** 4 + ubc ** 4 + uca ** 4) / (s2 * s2);
    const root = Math.sqrt(Math.max(0, 3 - 6 * beta));
    return round(Math.sqrt(Math.max(0, (1 - root) / (1 + root))) * 100);
  }
  if (ua !== undefined && ub !== undefined && uc !== undefined) return maxDeviation(ua, ub, uc);
  return undefined;
}

/**
 * Current unbalance, %: State Grid's distribution-transformer practice,
 * (largest phase current − smallest) / largest × 100 (Q/GDW 1519 三相负荷不平衡度).
 * Undefined below 1 A: the ratio of near-zero currents is noise.
 */
export function currentUnbalance(v: Values): number | undefined {
  const { ia, ib, ic } = v;
  if (ia === undefined || ib === undefined || ic === undefined) return undefined;
  const max = Math.max(ia, ib, ic);
  if (max < 1) return undefined;
  return round(((max - Math.min(ia, ib, ic)) / max) * 100);
}

function maxDeviation(a: number, b: number, c: number): number | undefined {
  const mean = (a + b + c) / 3;
  if (mean <= 0) return undefined;
  return round((Math.max(Math.abs(a - mean), Math.abs(b - mean), Math.abs(c - mean)) / mean) * 100);
}

/**
 * Load rate, %: a transformer meter's apparent power over the rated kVA
 * (S from `s`, else √(P² + Q²), else Σ U·I per phase); a line meter's
 * largest phase current over the line's rated current.
 */
export function loadRate(v: Values, place: DevicePlace | undefined): number | undefined {
  if (!place) return undefined;
  if (place.role === 'transformer' && place.ratedKva) {
    let s = v.s;
    if (s === undefined && v.p !== undefined && v.q !== undefined) s = Math.hypot(v.p, v.q);
    if (s === undefined && v.ua !== undefined && v.ub !== undefined && v.uc !== undefined && v.ia !== undefined && v.ib !== undefined && v.ic !== undefined)
      s = (v.ua * v.ia + v.ub * v.ib + v.uc * v.ic) / 1000;
    return s === undefined ? undefined : round((s / place.ratedKva) * 100);
  }
  if (place.role === 'line' && place.ratedCurrentA) {
    const { ia, ib, ic } = v;
    const currents = [ia, ib, ic].filter((x): x is number => x !== undefined);
    return currents.length ? round((Math.max(...currents) / place.ratedCurrentA) * 100) : undefined;
  }
  return undefined;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Adds whatever can be derived to `v` in place (the ingest owns the parsed reading) and returns it. */
export function addDerived(v: Values, place: DevicePlace | undefined): Values {
  const lr = loadRate(v, place);
  if (lr !== undefined) v.load_rate = lr;
  const uu = voltageUnbalance(v);
  if (uu !== undefined) v.u_unbalance = Math.min(100, uu);
  const iu = currentUnbalance(v);
  if (iu !== undefined) v.i_unbalance = iu;
  return v;
}

/** The reading's values plus whatever can be derived; the input is not changed. */
export function withDerived(v: Values, place: DevicePlace | undefined): Values {
  return addDerived({ ...v }, place);
}
