/**
 * A three-phase meter as a pure model: values are a function of the time
 * passed in (epoch ms) and the meter's seed/profile; nothing here reads a
 * clock or touches I/O. The only state is the energy counters (they integrate
 * power between the times the model is sampled at) and the overrides.
 *
 * Noise is deterministic (hashed from seed, channel and time), so the same
 * seed sampled at the same instants gives the same values: replays and tests
 * are reproducible.
 */

export const METER_PROFILES = ['residential', 'commercial', 'feeder'] as const;
export type MeterProfile = (typeof METER_PROFILES)[number];

/**
 * What the model produces: the canonical meter quantities of the wire
 * contract, plus per-phase reactive power and power factor, which real meters
 * expose in their register maps (DTSU666 0x201C.., 0x202C..) but the wire
 * contract does not carry.
 */
export const MODEL_QUANTITIES = [
  'ua', 'ub', 'uc', 'uab', 'ubc', 'uca',
  'ia', 'ib', 'ic', 'in',
  'p', 'pa', 'pb', 'pc',
  'q', 'qa', 'qb', 'qc',
  's', 'pf', 'pfa', 'pfb', 'pfc',
  'f', 'ep_imp', 'ep_exp',
] as const;
export type ModelQuantity = (typeof MODEL_QUANTITIES)[number];
/** Units as in the wire contract: V, A, kW, kvar, kVA, Hz, kWh. */
export type MeterValues = Record<ModelQuantity, number>;
export type MeterOverrides = Partial<Record<ModelQuantity, number>>;

const MODEL_QUANTITY_SET: ReadonlySet<string> = new Set(MODEL_QUANTITIES);
export function isModelQuantity(name: string): name is ModelQuantity {
  return MODEL_QUANTITY_SET.has(name);
}

export interface MeterModelOptions {
  profile: MeterProfile;
  /** selects unbalance, power factor, voltage offset and noise; default 1 */
  seed?: number;
  /** active power at the peak of the load curve, kW; default per profile (30 / 150 / 400) */
  ratedKw?: number;
  /** phase-neutral voltage at no load, V; default 234 (the transformer tap raised against the drop under load) */
  noLoadV?: number;
  /** offset of the local time the load curve follows, minutes east of UTC; default 480 (China Standard Time) */
  utcOffsetMin?: number;
  /** energy counters at the first sample, kWh; default derived from the seed */
  initialEnergyKwh?: { imp?: number; exp?: number };
  /**
   * What the meter reads as a fraction of what flows through it (power,
   * currents and the energy it counts); default 1. Below 1: a meter tampered
   * with or bypassed (energy theft) — voltages and power factor stay true.
   */
  readingFactor?: number;
}

export interface MeterModel {
  readonly profile: MeterProfile;
  readonly seed: number;
  /**
   * The meter's values at `now` (epoch ms). Advances the energy counters from
   * the previous sample to `now`; a `now` earlier than the previous sample
   * leaves them where they are (a counter never runs backwards).
   */
  sample(now: number): MeterValues;
  /**
   * Fixes quantities to the given values, reported as-is until cleared; nothing
   * else is recomputed from them, except that the energy counters integrate an
   * overridden `p`. Merges with earlier overrides.
   */
  setOverride(values: MeterOverrides): void;
  /** Clears the named overrides, or all of them when none is named. */
  clearOverride(...quantities: ModelQuantity[]): void;
  /** The overrides in force. */
  overrides(): MeterOverrides;
}

const DEFAULT_RATED_KW: Record<MeterProfile, number> = { residential: 30, commercial: 150, feeder: 400 };
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

// ---------------------------------------------------------------- noise

/** 32-bit integer hash of (seed, channel, k) → [-1, 1]. */
function hash(seed: number, channel: number, k: number): number {
  let h = Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(channel | 0, 0x85ebca77) ^ Math.imul(k | 0, 0xc2b2ae3d);
  h ^= Math.floor(k / 4294967296) | 0; // keep the high bits of large time buckets
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  h ^= h >>> 16;
  return ((h >>> 0) / 4294967295) * 2 - 1;
}

/** Smooth value noise in [-1, 1]: hashed knots every `periodMs`, smoothstep between them. */
function smoothNoise(seed: number, channel: number, t: number, periodMs: number): number {
  const x = t / periodMs;
  const k = Math.floor(x);
  const u = x - k;
  const w = u * u * (3 - 2 * u);
  return hash(seed, channel, k) * (1 - w) + hash(seed, channel, k + 1) * w;
}

// channel numbers keep the noise sources independent
const CH = {
  loadSlow: 1, loadFast: 2, ua: 3, ub: 4, uc: 5, phaseA: 6, phaseB: 7, phaseC: 8, pf: 9,
  freqSlow: 10, freqFast: 11, seedWa: 20, seedWb: 21, seedPf: 22, seedV: 23, seedPfA: 24, seedPfB: 25, seedPfC: 26, seedE: 27,
} as const;

// ---------------------------------------------------------------- load curve

/** Gaussian bump around `mu` hours, wrapping around midnight. */
function bump(h: number, mu: number, sigma: number): number {
  let d = Math.abs(h - mu);
  if (d > 12) d = 24 - d;
  return Math.exp(-0.5 * (d / sigma) ** 2);
}
function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Daily load shape as a fraction of rated power (about 0.15 .. 1).
 * Residential: morning peak around 07:30, evening peak around 20:00, night trough.
 * Commercial: daytime plateau 08:00–18:30 with a lunch dip, low at weekends.
 * Feeder: a mix of both.
 * `localHour` in [0, 24); `weekday` 0 = Sunday.
 */
export function loadShape(profile: MeterProfile, localHour: number, weekday: number): number {
  const h = localHour;
  const residential = 0.18 + 0.4 * bump(h, 7.5, 1.1) + 0.78 * bump(h, 20, 1.7) + 0.1 * bump(h, 12.5, 1.5);
  const weekend = weekday === 0 || weekday === 6;
  const open = logistic((h - 8) / 0.4) * logistic((18.5 - h) / 0.5);
  const commercial = 0.15 + (weekend ? 0.3 : 0.82) * open * (1 - 0.08 * bump(h, 12.5, 0.6));
  switch (profile) {
    case 'residential':
      return residential;
    case 'commercial':
      return commercial;
    case 'feeder':
      return 0.55 * residential + 0.45 * commercial;
    default: {
      const never: never = profile;
      throw new Error(`unknown meter profile ${String(never)}`);
    }
  }
}

// ---------------------------------------------------------------- the model

interface Fixed {
  /** per-phase share of the load, summing to 3 (unbalance of a few %) */
  wa: number;
  wb: number;
  wc: number;
  pfBase: number;
  pfPhase: [number, number, number];
  vOffset: number;
}

/**
 * The true active power (kW) a meter with these options sees at t, without
 * overrides or reading factor: the same curve `createMeterModel` samples, as
 * a pure function (no counters), for composite models to sum.
 */
export function meterLoadKw(opts: MeterModelOptions): (t: number) => number {
  const profile = opts.profile;
  if (!(METER_PROFILES as readonly string[]).includes(profile)) throw new RangeError(`unknown meter profile "${String(profile)}"`);
  const seed = opts.seed ?? 1;
  const ratedKw = opts.ratedKw ?? DEFAULT_RATED_KW[profile];
  const offsetMs = (opts.utcOffsetMin ?? 480) * 60_000;
  return (t) => ratedKw * loadFraction(profile, seed, offsetMs, t);
}

/** fraction of rated power at t: the daily shape with slow and fast noise */
function loadFraction(profile: MeterProfile, seed: number, offsetMs: number, t: number): number {
  const local = t + offsetMs;
  const hour = (((local % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
  const weekday = new Date(local).getUTCDay();
  const shape = loadShape(profile, hour, weekday);
  return Math.max(0.02, shape * (1 + 0.04 * smoothNoise(seed, CH.loadSlow, t, 60_000) + 0.01 * smoothNoise(seed, CH.loadFast, t, 2_000)));
}

export function createMeterModel(opts: MeterModelOptions): MeterModel {
  const profile = opts.profile;
  if (!(METER_PROFILES as readonly string[]).includes(profile)) throw new RangeError(`unknown meter profile "${String(profile)}"`);
  const seed = opts.seed ?? 1;
  const ratedKw = opts.ratedKw ?? DEFAULT_RATED_KW[profile];
  const noLoadV = opts.noLoadV ?? 234;
  const offsetMs = (opts.utcOffsetMin ?? 480) * 60_000;
  const reading = opts.readingFactor ?? 1;
  if (!(Number.isFinite(reading) && reading > 0)) throw new RangeError(`readingFactor must be a finite number > 0, got ${reading}`);

  const wa0 = 1 + 0.03 * hash(seed, CH.seedWa, 0);
  const wb0 = 1 + 0.03 * hash(seed, CH.seedWb, 0);
  const fixed: Fixed = {
    wa: wa0,
    wb: wb0,
    wc: 3 - wa0 - wb0,
    pfBase: 0.935 + 0.02 * hash(seed, CH.seedPf, 0),
    pfPhase: [0.006 * hash(seed, CH.seedPfA, 0), 0.006 * hash(seed, CH.seedPfB, 0), 0.006 * hash(seed, CH.seedPfC, 0)],
    vOffset: 1.5 * hash(seed, CH.seedV, 0),
  };

  let overrides: MeterOverrides = {};
  let lastT: number | undefined;
  let epImp = opts.initialEnergyKwh?.imp ?? Math.round(ratedKw * 0.35 * 24 * (200 + 150 * (1 + hash(seed, CH.seedE, 0))) * 10) / 10;
  let epExp = opts.initialEnergyKwh?.exp ?? 0;

  const loadAt = (t: number): number => loadFraction(profile, seed, offsetMs, t);

  /** active power at t, kW, as the counters see it (an overridden p counts) */
  function powerAt(t: number): number {
    return overrides.p ?? ratedKw * loadAt(t) * reading;
  }

  function advanceEnergy(now: number): void {
    if (lastT === undefined) {
      lastT = now;
      return;
    }
    if (!(now > lastT)) return;
    const dt = now - lastT;
    // midpoint rule in steps of at most a minute; a long gap is capped at a day's worth of steps
    const n = Math.min(Math.ceil(dt / 60_000), 1440);
    const h = dt / n;
    let kwh = 0;
    for (let i = 0; i < n; i++) kwh += (powerAt(lastT + (i + 0.5) * h) * h) / HOUR_MS;
    if (kwh >= 0) epImp += kwh;
    else epExp -= kwh;
    lastT = now;
  }

  function sample(now: number): MeterValues {
    if (!Number.isFinite(now)) throw new RangeError(`sample time must be finite epoch ms, got ${now}`);
    advanceEnergy(now);
    const load = loadAt(now);
    // what the meter reads: the true load times its reading factor (voltages follow the true load)
    const p = ratedKw * load * reading;
    const jitter = (ch: number) => 0.01 * smoothNoise(seed, ch, now, 5_000);
    let wa = fixed.wa * (1 + jitter(CH.phaseA));
    let wb = fixed.wb * (1 + jitter(CH.phaseB));
    let wc = fixed.wc * (1 + jitter(CH.phaseC));
    const norm = 3 / (wa + wb + wc);
    wa *= norm;
    wb *= norm;
    wc *= norm;
    const pa = (p * wa) / 3;
    const pb = (p * wb) / 3;
    const pc = (p * wc) / 3;
    // voltage sags with the phase's own load: about 234 V at no load, 222 V at a heavily loaded phase
    const volt = (w: number, ch: number) => noLoadV + fixed.vOffset - 10 * load * w + 0.3 * smoothNoise(seed, ch, now, 5_000);
    const ua = volt(wa, CH.ua);
    const ub = volt(wb, CH.ub);
    const uc = volt(wc, CH.uc);
    const pfNow = fixed.pfBase + 0.025 * (load - 0.5) + 0.004 * smoothNoise(seed, CH.pf, now, 10_000);
    const clampPf = (x: number) => Math.min(0.98, Math.max(0.9, x));
    const pfa = clampPf(pfNow + fixed.pfPhase[0]);
    const pfb = clampPf(pfNow + fixed.pfPhase[1]);
    const pfc = clampPf(pfNow + fixed.pfPhase[2]);
    const tanOf = (pf: number) => Math.sqrt(1 - pf * pf) / pf;
    const qa = pa * tanOf(pfa);
    const qb = pb * tanOf(pfb);
    const qc = pc * tanOf(pfc);
    const sa = pa / pfa;
    const sb = pb / pfb;
    const sc = pc / pfc;
    const ia = (sa * 1000) / ua;
    const ib = (sb * 1000) / ub;
    const ic = (sc * 1000) / uc;
    // neutral current: phasor sum of the (lagging) phase currents, phases 120° apart
    const ang = (base: number, pf: number) => base - Math.acos(pf);
    const aA = ang(0, pfa);
    const aB = ang((-2 * Math.PI) / 3, pfb);
    const aC = ang((2 * Math.PI) / 3, pfc);
    const inRe = ia * Math.cos(aA) + ib * Math.cos(aB) + ic * Math.cos(aC);
    const inIm = ia * Math.sin(aA) + ib * Math.sin(aB) + ic * Math.sin(aC);
    // line-line magnitude of two phase-neutral phasors 120° apart: |Ua − Ub| = √(ua² + ub² + ua·ub) (= √3·u when equal)
    const ll = (x: number, y: number) => Math.sqrt(x * x + y * y + x * y);
    const s = sa + sb + sc;
    const f = 50 + 0.03 * smoothNoise(0, CH.freqSlow, now, 30_000) + 0.01 * smoothNoise(0, CH.freqFast, now, 3_000);
    const values: MeterValues = {
      ua, ub, uc,
      uab: ll(ua, ub), ubc: ll(ub, uc), uca: ll(uc, ua),
      ia, ib, ic, in: Math.hypot(inRe, inIm),
      p: pa + pb + pc, pa, pb, pc,
      q: qa + qb + qc, qa, qb, qc,
      s, pf: (pa + pb + pc) / s, pfa, pfb, pfc,
      f,
      ep_imp: epImp, ep_exp: epExp,
    };
    for (const [k, v] of Object.entries(overrides) as [ModelQuantity, number][]) values[k] = v;
    return values;
  }

  return {
    profile,
    seed,
    sample,
    setOverride(values) {
      const next = { ...overrides };
      for (const [k, v] of Object.entries(values)) {
        if (!isModelQuantity(k)) throw new RangeError(`cannot override "${k}": not a quantity of the meter model`);
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`override of "${k}" must be a finite number`);
        next[k] = v;
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
