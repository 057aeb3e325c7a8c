/**
 * A transformer area (台区) as one meter model: the transformer's meter
 * reports what its lines draw, plus the technical loss of the transformer and
 * the low-voltage lines between them, so supply and the lines' sales add up.
 *
 * The lines' loads come from "shadow" models built from the same options as
 * the line meters' own models (profile, seed, rating): the load curve and its
 * noise are pure functions of seed, channel and time, so a shadow sampled at
 * the same instant gives the same power as the line meter. A shadow reads the
 * true load (no reading factor): a line meter that under-reads (theft) shows
 * up as loss of the area. The transformer's voltages and frequency are its
 * own (a model with the transformer meter's options); its energy counters
 * integrate the summed power. Overrides work as on any meter model.
 */
import {
  createMeterModel,
  isModelQuantity,
  meterLoadKw,
  type MeterModel,
  type MeterModelOptions,
  type MeterOverrides,
  type MeterValues,
  type ModelQuantity,
} from './meter-model.ts';
import { rederive } from './faults.ts';

export interface AreaModelOptions {
  /** the transformer meter's own options: voltages, frequency, initial energy counters */
  transformer: MeterModelOptions;
  /** the line meters' options (a reading factor in them is ignored: the transformer sees the true load) */
  lines: readonly MeterModelOptions[];
  /** technical loss as a fraction of what the lines draw, e.g. 0.03; 0 … 0.5 */
  lossFraction: number;
}

export interface AreaModel extends MeterModel {
  /** active power into the area at t, kW (lines' true load × (1 + loss), or an overridden p); pure */
  activeKw(t: number): number;
}

const HOUR_MS = 3_600_000;
const PHASE = ['a', 'b', 'c'] as const;

export function createAreaModel(opts: AreaModelOptions): AreaModel {
  const loss = opts.lossFraction;
  if (!(Number.isFinite(loss) && loss >= 0 && loss <= 0.5)) throw new RangeError(`lossFraction must be a number 0 … 0.5, got ${loss}`);
  if (opts.lines.length === 0) throw new RangeError('an area model needs at least one line');
  const own = createMeterModel(opts.transformer);
  const trueLine = (o: MeterModelOptions): MeterModelOptions => {
    const { readingFactor: _ignored, ...rest } = o;
    return rest;
  };
  const shadows = opts.lines.map((o) => createMeterModel(trueLine(o)));
  const lineKw = opts.lines.map((o) => meterLoadKw(trueLine(o)));
  const k = 1 + loss;

  let overrides: MeterOverrides = {};
  let lastT: number | undefined;
  let epImp: number | undefined = opts.transformer.initialEnergyKwh?.imp;
  let epExp: number | undefined = opts.transformer.initialEnergyKwh?.exp;

  const powerAt = (t: number): number => overrides.p ?? k * lineKw.reduce((sum, f) => sum + f(t), 0);

  function advanceEnergy(now: number): void {
    if (lastT === undefined) {
      lastT = now;
      return;
    }
    if (!(now > lastT)) return;
    const dt = now - lastT;
    // midpoint rule in steps of at most a minute, as the meter model; a long gap is capped at a day's worth of steps
    const n = Math.min(Math.ceil(dt / 60_000), 1440);
    const h = dt / n;
    let kwh = 0;
    for (let i = 0; i < n; i++) kwh += (powerAt(lastT + (i + 0.5) * h) * h) / HOUR_MS;
    if (kwh >= 0) epImp! += kwh;
    else epExp! -= kwh;
    lastT = now;
  }

  function sample(now: number): MeterValues {
    if (!Number.isFinite(now)) throw new RangeError(`sample time must be finite epoch ms, got ${now}`);
    const base = own.sample(now);
    // the counters start where the transformer meter's own model starts them
    epImp ??= base.ep_imp;
    epExp ??= base.ep_exp;
    advanceEnergy(now);
    const v: MeterValues = { ...base };
    for (const ph of PHASE) {
      v[`p${ph}`] = 0;
      v[`q${ph}`] = 0;
    }
    for (const s of shadows) {
      const x = s.sample(now);
      for (const ph of PHASE) {
        v[`p${ph}`] += k * x[`p${ph}`];
        v[`q${ph}`] += k * x[`q${ph}`];
      }
    }
    // the phase current at the transformer's own voltage
    for (const ph of PHASE) v[`i${ph}`] = (Math.hypot(v[`p${ph}`], v[`q${ph}`]) * 1000) / v[`u${ph}`];
    rederive(v);
    v.ep_imp = epImp;
    v.ep_exp = epExp;
    for (const [q, val] of Object.entries(overrides) as [ModelQuantity, number][]) v[q] = val;
    return v;
  }

  return {
    profile: own.profile,
    seed: own.seed,
    sample,
    activeKw: powerAt,
    setOverride(values) {
      const next = { ...overrides };
      for (const [q, val] of Object.entries(values)) {
        if (!isModelQuantity(q)) throw new RangeError(`cannot override "${q}": not a quantity of the meter model`);
        if (typeof val !== 'number' || !Number.isFinite(val)) throw new RangeError(`override of "${q}" must be a finite number`);
        next[q] = val;
      }
      overrides = next;
    },
    clearOverride(...quantities) {
      if (quantities.length === 0) overrides = {};
      else {
        const next = { ...overrides };
        for (const q of quantities) delete next[q];
        overrides = next;
      }
    },
    overrides: () => ({ ...overrides }),
  };
}
