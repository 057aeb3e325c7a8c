/**
 * What the metering-device health kinds (计量装置在线监测: voltage_loss,
 * current_loss, reverse_flow, counter_stuck, counter_backwards,
 * phase_sequence, clock_drift) share. Each is a yes/no condition of one meter
 * judged on one reading — a criterion of the State Grid smart-meter event
 * list, each in its own file — with the on/off delays and the freshness window
 * of the sampled kinds (levels.ts: one level, judged on 1 while the criterion
 * holds and 0 while it does not).
 *
 * A kind gives `judge`: the reading → whether the criterion holds, the value
 * that decided it (for the message and the alarm's value), what it concerns
 * (a phase, a counter) and, for the counter kinds, what it remembers of the
 * meter (`mem`, plain numbers), written into a judgement object the kind
 * reuses (no object per reading). `judge` returns false for a reading that
 * does not carry what the kind judges: nothing changes, so a rule costs a
 * reading of another quantity (a room sensor's, a spool report) a few
 * property reads. A reading on which the criterion does not hold while
 * nothing is running or active (nearly every reading) updates the times and
 * the memory only, without the level machinery.
 */
import { z } from 'zod';
import { initialLevels, type LevelDef, type LevelState } from '../levels.ts';
import { confirmedLevel, decideIfFresh, decided, defineKind, levelsActive, memoDefs, observeAfterGap, type Describer, type KindDescriptor, type RuleInput, type StepResult } from './common.ts';
import { common, delays, seconds, severity, type SemanticIssue, type Severity } from './fields.ts';

/** The state of every meter-health kind. */
export interface HealthState<K extends string> {
  kind: K;
  lastTs: number | null;
  levels: LevelState;
  /** what the last judgement concerned (a phase `a`, a counter `ep_imp`); null = nothing */
  what: string | null;
  /** the value of the last judgement (a voltage, a current, kWh, seconds) */
  value: number | null;
  /** what the kind remembers of the meter between readings (the counter kinds); plain numbers */
  mem: number[];
}

/** One reading judged: filled in by `judge` (the same object for every reading). */
export interface Judgement {
  holds: boolean;
  value: number;
  what: string;
  /** the kind's memory after this reading; undefined = unchanged */
  mem: number[] | undefined;
}

/** The keys every meter-health rule has: severity and the sampled kinds' delays (defaults per kind). */
export function healthKeys(d: { severity: Severity; onDelayS: number; offDelayS: number }) {
  return {
    ...common,
    severity: severity.default(d.severity),
    ...delays,
    onDelayS: seconds.default(d.onDelayS),
    offDelayS: seconds.default(d.offDelayS),
  };
}

interface HealthRule {
  kind: string;
  severity: Severity;
  onDelayS: number;
  offDelayS: number;
  holdS: number;
}

export interface HealthSpec<K extends string, Schema extends z.ZodType<{ kind: K } & HealthRule>> {
  kind: K;
  schema: Schema;
  check?: (rule: z.output<Schema>) => SemanticIssue[];
  /**
   * The criterion on one good reading at time `t`, written into `out` (holds,
   * value, what; mem when it changes, else undefined); `active`: the condition
   * is confirmed (for hysteresis). False: the reading does not tell.
   */
  judge: (input: RuleInput, rule: z.output<Schema>, s: Readonly<HealthState<K>>, t: number, active: boolean, out: Judgement) => boolean;
  /** the quantities the criterion reads: a reading with none of them is not judged (judge returns false for it) */
  quantities: (rule: z.output<Schema>) => readonly string[];
  /** the limit the alarm shows beside its value */
  limit: (rule: z.output<Schema>) => number;
  /** the raise message for the last judgement */
  message: (rule: z.output<Schema>, what: string, value: number) => string;
  /** the clear message */
  endMessage: (rule: z.output<Schema>, what: string) => string;
}

/** Builds a meter-health kind's descriptor from its criterion. */
export function defineHealthKind<K extends string, Schema extends z.ZodType<{ kind: K } & HealthRule>>(
  spec: HealthSpec<K, Schema>,
): KindDescriptor<K, Schema, HealthState<K>> {
  type R = z.output<Schema>;
  type S = HealthState<K>;
  const defs = memoDefs((rule: R): LevelDef[] => [{ name: spec.kind, group: 'hi', rank: 1, cmp: 'gt', limit: 0.5, severity: rule.severity, arg: 0 }]);
  const text = (rule: R, s: S): Describer => ({
    describe: () => spec.message(rule, s.what ?? '', s.value ?? NaN),
    describeEnd: () => spec.endMessage(rule, s.what ?? ''),
  });
  /** the alarm shows the judged value and the criterion's limit, not the level's 1 and 0.5 */
  const withValue = (res: StepResult, rule: R): StepResult => {
    const tr = res.transition;
    if (tr === undefined || tr.to !== 'active') return res;
    const s = res.state as unknown as S;
    if (s.value !== null) tr.value = s.value;
    tr.limit = spec.limit(rule);
    return res;
  };
  const j: Judgement = { holds: false, value: 0, what: '', mem: undefined };
  const step = (s: S, input: RuleInput, rule: R, t: number, _now: number, own: boolean): StepResult => {
    if (input.q !== 'good') return { state: s as never };
    if (s.lastTs !== null && t <= s.lastTs) return { state: s as never };
    j.mem = undefined;
    if (!spec.judge(input, rule, s, t, s.levels.confirmed !== null, j)) return { state: s as never };
    const l = s.levels;
    if (!j.holds && l.confirmed === null && l.beyondSince[spec.kind] === undefined && l.lastB === null) {
      // idle: what observe and decide would do here (no run, nothing confirmed): the times and the memory move on
      if (!own) return { state: { kind: s.kind, lastTs: t, levels: { ...l, lastT: t, lastA: 0 }, what: j.what, value: j.value, mem: j.mem ?? s.mem } as never };
      s.lastTs = t;
      s.what = j.what;
      s.value = j.value;
      if (j.mem !== undefined) s.mem = j.mem;
      l.lastT = t;
      l.lastA = 0;
      return { state: s as never };
    }
    const d = defs(rule);
    const levels = observeAfterGap(s.levels, d, j.holds ? 1 : 0, undefined, 0, t, t, rule.holdS * 1000, own);
    let next: S;
    if (own) {
      next = s;
      next.lastTs = t;
      next.levels = levels;
      next.what = j.what;
      next.value = j.value;
      if (j.mem !== undefined) next.mem = j.mem;
    } else {
      next = { kind: s.kind, lastTs: t, levels, what: j.what, value: j.value, mem: j.mem ?? s.mem };
    }
    return withValue(decided(next, d, rule, t, text) as unknown as StepResult, rule);
  };
  const tick = (s: S, rule: R, now: number): StepResult => withValue(decideIfFresh(s, defs(rule), rule, now, text) as unknown as StepResult, rule);
  return defineKind<K, Schema, S>({
    kind: spec.kind,
    schema: spec.schema,
    ...(spec.check ? { check: spec.check } : {}),
    sampled: true,
    source: 'device',
    quantities: spec.quantities,
    initialState: (): S => ({ kind: spec.kind, lastTs: null, levels: initialLevels(), what: null, value: null, mem: [] }),
    step: step as KindDescriptor<K, Schema, S>['step'],
    tick: tick as KindDescriptor<K, Schema, S>['tick'],
    conditionActive: levelsActive,
    activeLevel: confirmedLevel,
    severity: (rule) => rule.severity,
    describe: text,
  });
}

/** The phases a meter reports, with their voltage and current quantities. */
export const PHASES = [
  { name: 'a', u: 'ua', i: 'ia' },
  { name: 'b', u: 'ub', i: 'ib' },
  { name: 'c', u: 'uc', i: 'ic' },
] as const;

/** A finite number of the reading, or undefined. */
export function num(input: RuleInput, q: string): number | undefined {
  const v = (input.values as Record<string, unknown>)[q];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export const positive = z.number().positive();
export const percent = z.number().positive().max(1000);

export function r2(x: number): number {
  return Math.round(x * 100) / 100;
}
