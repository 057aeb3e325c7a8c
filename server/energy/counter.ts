/**
 * Energy from a cumulative kWh counter over an interval (docs/energy.md,
 * Completeness and Resets). Pure: samples in, kWh or the reason there is
 * none out.
 *
 * The counter's value at a boundary is interpolated linearly between the
 * last reading at or before it and the first after it, both within the
 * tolerance; with only one of them within the tolerance (or the counter
 * going back between them) the nearer reading stands for the boundary.
 * The interval's energy is the sum of the steps along boundary value →
 * readings inside → boundary value, so the energies of adjacent intervals
 * add up to that of the interval covering both.
 */
import type { CounterEventKind, LineLossOptions } from './types.ts';

/** One counter's readings, time-ascending; null values are ignored. */
export interface CounterSeries {
  ts: readonly number[];
  values: readonly (number | null)[];
}

/** Index of the last sample with ts ≤ at, −1 when none. */
function lastAtOrBefore(ts: readonly number[], at: number): number {
  let lo = 0;
  let hi = ts.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid]! <= at) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/** The series without null values. */
export function cleanSeries(s: CounterSeries): { ts: number[]; values: number[] } {
  const ts: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < s.ts.length; i++) {
    const v = s.values[i];
    if (typeof v === 'number' && Number.isFinite(v)) {
      ts.push(s.ts[i]!);
      values.push(v);
    }
  }
  return { ts, values };
}

/** The counter's value at `at` (see the file comment), null when no reading lies within `toleranceMs`. */
export function valueAt(s: { ts: readonly number[]; values: readonly number[] }, at: number, toleranceMs: number): number | null {
  const i = lastAtOrBefore(s.ts, at);
  const before = i >= 0 && at - s.ts[i]! <= toleranceMs ? i : -1;
  if (before >= 0 && s.ts[before] === at) return s.values[before]!;
  const j = i + 1;
  const after = j < s.ts.length && s.ts[j]! - at <= toleranceMs ? j : -1;
  if (before >= 0 && after >= 0) {
    const v0 = s.values[before]!;
    const v1 = s.values[after]!;
    if (v1 >= v0) {
      const t0 = s.ts[before]!;
      return v0 + ((v1 - v0) * (at - t0)) / (s.ts[after]! - t0);
    }
    // went back between them: the nearer reading (the earlier on a tie)
    return at - s.ts[before]! <= s.ts[after]! - at ? v0 : v1;
  }
  if (before >= 0) return s.values[before]!;
  if (after >= 0) return s.values[after]!;
  return null;
}

/** Energy of one step from `prev` to `next` kWh, and what happened when the counter went back. */
export function stepEnergy(prev: number, next: number, opts: Pick<LineLossOptions, 'resetMaxKwh' | 'rolloverBand'>): { kwh: number | null; event?: CounterEventKind } {
  if (next >= prev) return { kwh: next - prev };
  if (prev > 0) {
    // the power of ten above prev: a register of n integer digits wraps at 10ⁿ
    const wrap = 10 ** Math.ceil(Math.log10(prev * (1 + 1e-12)));
    if (prev >= wrap * (1 - opts.rolloverBand) && next <= wrap * opts.rolloverBand) return { kwh: wrap - prev + next, event: 'rollover' };
  }
  if (next <= opts.resetMaxKwh) return { kwh: next, event: 'reset' };
  return { kwh: null, event: 'replaced' };
}

export type CounterEnergy =
  | { ok: true; kwh: number; events: Array<{ kind: CounterEventKind; at: number; from: number; to: number }> }
  | { ok: false; why: 'missing' }
  | { ok: false; why: 'replaced'; events: Array<{ kind: CounterEventKind; at: number; from: number; to: number }> };

/** Energy of the counter over [start, end). */
export function counterEnergy(s: { ts: readonly number[]; values: readonly number[] }, start: number, end: number, opts: LineLossOptions): CounterEnergy {
  const v0 = valueAt(s, start, opts.toleranceMs);
  const v1 = valueAt(s, end, opts.toleranceMs);
  if (v0 === null || v1 === null) return { ok: false, why: 'missing' };
  const events: Array<{ kind: CounterEventKind; at: number; from: number; to: number }> = [];
  let kwh = 0;
  let replaced = false;
  let prev = v0;
  const take = (next: number, at: number) => {
    const st = stepEnergy(prev, next, opts);
    if (st.event) events.push({ kind: st.event, at, from: prev, to: next });
    if (st.kwh === null) replaced = true;
    else kwh += st.kwh;
    prev = next;
  };
  for (let i = lastAtOrBefore(s.ts, start) + 1; i < s.ts.length && s.ts[i]! < end; i++) {
    if (s.ts[i]! <= start) continue;
    take(s.values[i]!, s.ts[i]!);
  }
  take(v1, end);
  if (replaced) return { ok: false, why: 'replaced', events };
  return { ok: true, kwh, events };
}
