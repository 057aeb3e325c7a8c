/**
 * Faults a simulated meter can have, as data, and the pure functions that
 * apply them. Electrical faults change what the meter measures; communication
 * faults change how (or whether) it answers. Time comes in as an argument.
 *
 * Electrical faults act on the model's values and then re-derive what follows
 * from them (totals, line-line voltages, power factor, neutral current), so a
 * faulted meter is still self-consistent.
 */
import type { MeterValues } from './meter-model.ts';

export const PHASES = ['a', 'b', 'c'] as const;
export type Phase = (typeof PHASES)[number];

/** How a garbage answer is broken (see the servers for what each is on the wire). */
export const GARBAGE_MODES = ['random', 'truncated', 'corrupt', 'wrong_unit', 'wrong_function'] as const;
export type GarbageMode = (typeof GARBAGE_MODES)[number];

export type Fault =
  /**
   * load ramps from its normal value to `factor` × normal over `rampS` seconds, and stays there; the voltage
   * drops by `vDrop` (default 0.04) per unit of load added: a factor k takes it down by vDrop × (k − 1)
   */
  | { kind: 'overload'; factor?: number; rampS?: number; vDrop?: number }
  /** voltage down to `depth` × normal on the phases given (all by default) */
  | { kind: 'sag'; depth?: number; phases?: Phase[] }
  /** voltage up to `factor` × normal */
  | { kind: 'swell'; factor?: number; phases?: Phase[] }
  /** one phase gone: its voltage, current and power zero */
  | { kind: 'phase_loss'; phase: Phase }
  /**
   * phases connected in reverse sequence (A-C-B): every magnitude as before, so only a meter that tells the
   * sequence shows it (DL/T 645 status word 7, 04000507, bit 0)
   */
  | { kind: 'phase_reversal' }
  /** supply lost: every voltage, current and power zero; the energy counters stop */
  | { kind: 'outage' }
  /** phase A carries `percent` % more current, phase C as much less; voltages drift apart by a tenth of that */
  | { kind: 'unbalance'; percent?: number }
  /** values stuck where they were when the fault began */
  | { kind: 'frozen' }
  /** no answer at all */
  | { kind: 'dead' }
  /** every answer `delayMs` late */
  | { kind: 'slow'; delayMs: number }
  /** a Modbus exception instead of the data (default 04, server device failure), with the given probability */
  | { kind: 'exception'; code?: number; probability?: number }
  /** a malformed answer instead of the data, with the given probability */
  | { kind: 'garbage'; mode?: GarbageMode; probability?: number };

export type FaultKind = Fault['kind'];
export const FAULT_KINDS: readonly FaultKind[] = [
  'overload', 'sag', 'swell', 'phase_loss', 'outage', 'unbalance', 'frozen', 'dead', 'slow', 'exception', 'garbage',
];
/** the largest overload factor a fault may ask for (a light night load driven to 130 % of rating needs more than 10) */
export const MAX_OVERLOAD_FACTOR = 20;
export const ELECTRICAL_FAULTS: readonly FaultKind[] = ['overload', 'sag', 'swell', 'phase_loss', 'outage', 'unbalance'];

export interface ActiveFault {
  fault: Fault;
  /** epoch ms the fault began (ramps count from here) */
  since: number;
  /** epoch ms it ends by itself, if it does */
  until?: number;
}

export function isFaultKind(x: unknown): x is FaultKind {
  return typeof x === 'string' && (FAULT_KINDS as readonly string[]).includes(x);
}

/** Checks a fault's parameters; returns the problems (empty when valid). */
export function faultProblems(f: Fault): string[] {
  const out: string[] = [];
  const num = (name: string, v: unknown, min: number, max: number) => {
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)) out.push(`${name}: expected a number ${min}..${max}`);
  };
  const phases = (v: unknown) => {
    if (v !== undefined && (!Array.isArray(v) || v.length === 0 || !v.every((p) => (PHASES as readonly unknown[]).includes(p)))) out.push('phases: expected a list of a, b, c');
  };
  switch (f.kind) {
    case 'overload':
      num('factor', f.factor, 0, MAX_OVERLOAD_FACTOR);
      num('rampS', f.rampS, 0, 86_400);
      num('vDrop', f.vDrop, 0, 0.1);
      break;
    case 'sag':
      num('depth', f.depth, 0, 1);
      phases(f.phases);
      break;
    case 'swell':
      num('factor', f.factor, 1, 2);
      phases(f.phases);
      break;
    case 'phase_loss':
      if (!(PHASES as readonly unknown[]).includes(f.phase)) out.push('phase: expected a, b or c');
      break;
    case 'unbalance':
      num('percent', f.percent, 0, 100);
      break;
    case 'slow':
      num('delayMs', f.delayMs, 0, 600_000);
      if (f.delayMs === undefined) out.push('delayMs: required');
      break;
    case 'exception':
      num('code', f.code, 1, 255);
      num('probability', f.probability, 0, 1);
      break;
    case 'garbage':
      if (f.mode !== undefined && !(GARBAGE_MODES as readonly unknown[]).includes(f.mode)) out.push(`mode: expected one of ${GARBAGE_MODES.join(', ')}`);
      num('probability', f.probability, 0, 1);
      break;
    case 'outage':
    case 'phase_reversal':
    case 'frozen':
    case 'dead':
      break;
    default: {
      const never: never = f;
      out.push(`kind: unknown fault ${JSON.stringify((never as { kind: unknown }).kind)}`);
    }
  }
  return out;
}

const U = { a: 'ua', b: 'ub', c: 'uc' } as const;
const I = { a: 'ia', b: 'ib', c: 'ic' } as const;
const P = { a: 'pa', b: 'pb', c: 'pc' } as const;
const Q = { a: 'qa', b: 'qb', c: 'qc' } as const;
const PF = { a: 'pfa', b: 'pfb', c: 'pfc' } as const;

/** Totals, line-line voltages, power factors and the neutral current from the per-phase values. */
export function rederive(v: MeterValues): MeterValues {
  const ll = (x: number, y: number) => Math.sqrt(x * x + y * y + x * y);
  v.uab = ll(v.ua, v.ub);
  v.ubc = ll(v.ub, v.uc);
  v.uca = ll(v.uc, v.ua);
  let s = 0;
  for (const ph of PHASES) {
    const sp = Math.hypot(v[P[ph]], v[Q[ph]]);
    v[PF[ph]] = sp > 0 ? v[P[ph]] / sp : 0;
    s += sp;
  }
  v.p = v.pa + v.pb + v.pc;
  v.q = v.qa + v.qb + v.qc;
  v.s = s;
  v.pf = s > 0 ? v.p / s : 0;
  // currents 120° apart, each lagging by its power factor angle
  const ang = (base: number, pf: number) => base - Math.acos(Math.max(-1, Math.min(1, pf || 1)));
  const a = [ang(0, v.pfa), ang((-2 * Math.PI) / 3, v.pfb), ang((2 * Math.PI) / 3, v.pfc)];
  const re = v.ia * Math.cos(a[0]!) + v.ib * Math.cos(a[1]!) + v.ic * Math.cos(a[2]!);
  const im = v.ia * Math.sin(a[0]!) + v.ib * Math.sin(a[1]!) + v.ic * Math.sin(a[2]!);
  v.in = Math.hypot(re, im);
  return v;
}

function scalePhaseLoad(v: MeterValues, ph: Phase, k: number): void {
  v[I[ph]] *= k;
  v[P[ph]] *= k;
  v[Q[ph]] *= k;
}

/**
 * The values a meter with these electrical faults reads at `now`. Faults
 * apply in the order given; `frozen` and the communication faults are not
 * applied here (see the unit).
 */
export function applyElectricalFaults(values: MeterValues, faults: readonly ActiveFault[], now: number): MeterValues {
  if (!faults.some((a) => ELECTRICAL_FAULTS.includes(a.fault.kind))) return values;
  const v: MeterValues = { ...values };
  for (const { fault: f, since } of faults) {
    switch (f.kind) {
      case 'overload': {
        const ramp = (f.rampS ?? 60) * 1000;
        const k = 1 + ((f.factor ?? 1.3) - 1) * (ramp > 0 ? Math.min(1, Math.max(0, now - since) / ramp) : 1);
        for (const ph of PHASES) {
          scalePhaseLoad(v, ph, k);
          // more current, more drop in the transformer and the line (never below half the voltage)
          v[U[ph]] *= Math.max(0.5, 1 - (f.vDrop ?? 0.04) * Math.max(0, k - 1));
        }
        break;
      }
      case 'sag':
        for (const ph of f.phases ?? PHASES) v[U[ph]] *= f.depth ?? 0.85;
        break;
      case 'swell':
        for (const ph of f.phases ?? PHASES) v[U[ph]] *= f.factor ?? 1.12;
        break;
      case 'unbalance': {
        const x = (f.percent ?? 30) / 100;
        scalePhaseLoad(v, 'a', 1 + x);
        scalePhaseLoad(v, 'c', 1 - x);
        v.ua *= 1 - x / 10;
        v.uc *= 1 + x / 10;
        break;
      }
      case 'phase_loss':
        v[U[f.phase]] = 0;
        scalePhaseLoad(v, f.phase, 0);
        break;
      case 'outage':
        for (const ph of PHASES) {
          v[U[ph]] = 0;
          scalePhaseLoad(v, ph, 0);
        }
        v.f = 0;
        break;
      case 'phase_reversal':
      case 'frozen':
      case 'dead':
      case 'slow':
      case 'exception':
      case 'garbage':
        break;
      default: {
        const never: never = f;
        throw new Error(`unknown fault ${String(never)}`);
      }
    }
  }
  return rederive(v);
}
