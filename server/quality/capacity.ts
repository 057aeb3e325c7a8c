/**
 * Available capacity (可开放容量) of a transformer, pure: rated kVA minus the
 * maximum — and minus the 95th percentile — of its load over a window (30
 * days by default), the load being the transformer meter's 15-min mean
 * apparent power (the demand interval load figures are read on), as
 * `load_rate` × rated kVA / 100 (load_rate is derived at ingest from s, or
 * p and q, or the phase voltages and currents). Negative available capacity
 * means the transformer has been loaded past its rating.
 */

export interface CapacityFigures {
  ratedKva: number;
  /** 15-min intervals with a load value in the window */
  intervals: number;
  /** null without any load value */
  maxKva: number | null;
  /** start of the 15-min interval of the maximum, epoch ms */
  maxAt: number | null;
  p95Kva: number | null;
  availableKva: number | null;
  availableP95Kva: number | null;
  /** max / rated × 100 */
  maxLoadPct: number | null;
}

function r1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** The p-th percentile (0 < p ≤ 100) by nearest rank of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** The figures from 15-min mean load rates (%, null = no data) at `ts`. */
export function capacityOf(ratedKva: number, ts: readonly number[], loadRatePct: readonly (number | null)[]): CapacityFigures {
  const loads: number[] = [];
  let max = -Infinity;
  let maxAt: number | null = null;
  for (let i = 0; i < loadRatePct.length; i++) {
    const lr = loadRatePct[i];
    if (lr === null || lr === undefined || !Number.isFinite(lr)) continue;
    const kva = (lr * ratedKva) / 100;
    loads.push(kva);
    if (kva > max) {
      max = kva;
      maxAt = ts[i]!;
    }
  }
  if (loads.length === 0) return { ratedKva, intervals: 0, maxKva: null, maxAt: null, p95Kva: null, availableKva: null, availableP95Kva: null, maxLoadPct: null };
  loads.sort((a, b) => a - b);
  const p95 = percentile(loads, 95);
  return {
    ratedKva,
    intervals: loads.length,
    maxKva: r1(max),
    maxAt,
    p95Kva: r1(p95),
    availableKva: r1(ratedKva - max),
    availableP95Kva: r1(ratedKva - p95),
    maxLoadPct: r1((max / ratedKva) * 100),
  };
}
