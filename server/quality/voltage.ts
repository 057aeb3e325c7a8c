/**
 * Voltage qualification rate (电压合格率) of a voltage monitoring point, pure:
 * 1-min mean voltages in, minutes inside / above / below the GB/T 12325
 * limits out (docs/quality.md).
 *
 * - A single-phase point (a meter that reports `ua` only): nominal +7 % / −10 %
 *   (220 V: 198–235.4 V).
 * - A three-phase point (it reports `ub` or `uc`, or line voltages): ±7 % of
 *   nominal on each phase voltage (220 V: 204.6–235.4 V), and on each line
 *   voltage of √3 × nominal (380 V: 353.4–406.6 V) where the meter gives them.
 *
 * A minute counts as monitored when the meter has a 1-min mean of any of its
 * voltages in it; above when any mean is above the upper limit, below when
 * any is below the lower one (a minute both above and below counts as above
 * and below, but once as not inside); inside otherwise. rate = inside /
 * monitored × 100, i.e. (1 − (above ∪ below) / monitored) × 100.
 *
 * A minute in which every voltage of the point is below `OUTAGE_BELOW_PU` of
 * its nominal is an outage minute: the supply was interrupted, which the
 * reliability figures count; it is not a voltage deviation, so it is left out
 * of the monitored time (as voltage monitors do) and tallied as `outageMin`.
 */

export const PHASE_QUANTITIES = ['ua', 'ub', 'uc'] as const;
export const LINE_QUANTITIES = ['uab', 'ubc', 'uca'] as const;
export const VOLTAGE_QUANTITIES = [...PHASE_QUANTITIES, ...LINE_QUANTITIES] as const;
export type VoltageQuantity = (typeof VOLTAGE_QUANTITIES)[number];

export type VoltageClass = 'single_phase' | 'three_phase';

export interface VoltageLimits {
  class: VoltageClass;
  nominalV: number;
  /** per-unit deviation limits: +0.07 / −0.10 single-phase, ±0.07 three-phase */
  upperPct: number;
  lowerPct: number;
  /** phase-voltage limits, V */
  phaseHiV: number;
  phaseLoV: number;
  /** line-voltage limits, V (three-phase) */
  lineHiV: number;
  lineLoV: number;
}

function r(x: number, d = 2): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** GB/T 12325 limits of a point of `cls` at phase nominal `nominalV`. */
export function limitsOf(cls: VoltageClass, nominalV = 220): VoltageLimits {
  const upperPct = 7;
  const lowerPct = cls === 'single_phase' ? 10 : 7;
  // the line voltage as systems are named: 220/380 V, 230/400 V (√3 × phase, to 10 V)
  const lineV = Math.round((nominalV * Math.sqrt(3)) / 10) * 10;
  return {
    class: cls,
    nominalV,
    upperPct,
    lowerPct,
    phaseHiV: r(nominalV * (1 + upperPct / 100), 3),
    phaseLoV: r(nominalV * (1 - lowerPct / 100), 3),
    lineHiV: r(lineV * (1 + upperPct / 100), 1),
    lineLoV: r(lineV * (1 - lowerPct / 100), 1),
  };
}

/**
 * Below this share of the nominal on every voltage, a minute is an outage
 * minute, not a low-voltage one: 0.1 × 220 V = 22 V, the same bound at which the
 * outage pool calls a meter dark.
 */
export const OUTAGE_BELOW_PU = 0.1;

/** Minutes of a point over a period. */
export interface VoltageTally {
  monitoredMin: number;
  insideMin: number;
  aboveMin: number;
  belowMin: number;
  /** minutes with supply interrupted: every voltage below OUTAGE_BELOW_PU of nominal; not in monitoredMin */
  outageMin: number;
}

export interface VoltageFigures extends VoltageTally {
  /** inside / monitored × 100, two decimals; null with nothing monitored */
  ratePct: number | null;
  abovePct: number | null;
  belowPct: number | null;
}

export function emptyTally(): VoltageTally {
  return { monitoredMin: 0, insideMin: 0, aboveMin: 0, belowMin: 0, outageMin: 0 };
}

export function addTally(a: VoltageTally, b: VoltageTally): VoltageTally {
  return {
    monitoredMin: a.monitoredMin + b.monitoredMin,
    insideMin: a.insideMin + b.insideMin,
    aboveMin: a.aboveMin + b.aboveMin,
    belowMin: a.belowMin + b.belowMin,
    outageMin: a.outageMin + b.outageMin,
  };
}

export function figuresOf(t: VoltageTally): VoltageFigures {
  const pct = (n: number) => (t.monitoredMin === 0 ? null : r((n / t.monitoredMin) * 100));
  return { ...t, ratePct: pct(t.insideMin), abovePct: pct(t.aboveMin), belowPct: pct(t.belowMin) };
}

/** 1-min means of one meter: quantity → (minute start → mean). */
export type MinuteMeans = Partial<Record<VoltageQuantity, ReadonlyMap<number, number>>>;

/** The class a meter's data says it is: three-phase when it reports a second phase or a line voltage. */
export function classOf(means: MinuteMeans): VoltageClass {
  const has = (q: VoltageQuantity) => (means[q]?.size ?? 0) > 0;
  return has('ub') || has('uc') || LINE_QUANTITIES.some(has) ? 'three_phase' : 'single_phase';
}

/** Counts the minutes of one meter against `limits`. */
export function tallyMinutes(means: MinuteMeans, limits: VoltageLimits): VoltageTally {
  const minutes = new Set<number>();
  for (const q of VOLTAGE_QUANTITIES) for (const m of means[q]?.keys() ?? []) minutes.add(m);
  const t = emptyTally();
  for (const m of minutes) {
    let above = false;
    let below = false;
    let dark = true;
    for (const q of VOLTAGE_QUANTITIES) {
      const v = means[q]?.get(m);
      if (v === undefined) continue;
      const line = q.length === 3;
      if (v > (line ? limits.lineHiV : limits.phaseHiV)) above = true;
      if (v < (line ? limits.lineLoV : limits.phaseLoV)) below = true;
      if (v >= (line ? limits.nominalV * Math.sqrt(3) : limits.nominalV) * OUTAGE_BELOW_PU) dark = false;
    }
    if (dark) {
      t.outageMin++;
      continue;
    }
    t.monitoredMin++;
    if (above) t.aboveMin++;
    if (below) t.belowMin++;
    if (!above && !below) t.insideMin++;
  }
  return t;
}

// ---------------------------------------------------------------- periods

export interface Period {
  kind: 'day' | 'month';
  /** `2026-12-07` or `2026-12` */
  label: string;
  /** epoch ms, local midnight of the first day */
  from: number;
  /** epoch ms, exclusive */
  to: number;
  /** the days of the period, [from, to) each */
  days: { label: string; from: number; to: number }[];
}

const DAY_MS = 86_400_000;

/** `+08:00` → 480; `Z` → 0. */
export function tzMinutesOf(tz: string): number {
  if (tz === 'Z') return 0;
  const m = /^([+-])(\d\d):(\d\d)$/.exec(tz);
  if (!m) throw new Error(`not a zone offset: ${tz}`);
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** The day (`YYYY-MM-DD`) or month (`YYYY-MM`) in the zone `tz`; null when it is no such date. */
export function periodOf(day: string | undefined, month: string | undefined, tz: string): Period | null {
  const off = tzMinutesOf(tz) * 60_000;
  if (day !== undefined) {
    const m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(day);
    if (!m) return null;
    const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    if (new Date(utc).toISOString().slice(0, 10) !== day) return null;
    const from = utc - off;
    return { kind: 'day', label: day, from, to: from + DAY_MS, days: [{ label: day, from, to: from + DAY_MS }] };
  }
  if (month !== undefined) {
    const m = /^(\d{4})-(\d\d)$/.exec(month);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) return null;
    const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
    const end = Date.UTC(Number(m[1]), Number(m[2]), 1);
    const days: Period['days'] = [];
    for (let d = start; d < end; d += DAY_MS) days.push({ label: new Date(d).toISOString().slice(0, 10), from: d - off, to: d - off + DAY_MS });
    return { kind: 'month', label: month, from: start - off, to: end - off, days };
  }
  return null;
}
