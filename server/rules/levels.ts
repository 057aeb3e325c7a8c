/**
 * The hysteresis core shared by every sampled rule kind: a set of levels,
 * each a limit on some evaluated value, plus deadband, on-delay and
 * off-delay. Internal to server/rules.
 *
 * Two phases, so `tick` can let a delay expire without a new sample:
 *  - `observe` records, per level, since when the value has been
 *    continuously beyond it (`beyondSince`) and since when the confirmed
 *    level has been left (`leftSince`);
 *  - `decide` confirms a level whose on-delay has run, or leaves the
 *    confirmed level when its off-delay has run.
 *
 * The deadband applies to a level only while the confirmed level is at or
 * past it (ISA-18.2's alarm deadband): while pending, exceedance is
 * judged on the plain limit, so the on-delay needs a continuous run.
 * All times are epoch ms. The state is plain JSON.
 */
import type { Severity } from './schema.ts';

export interface LevelDef {
  name: string;
  /** levels of one group are ordered by rank; different groups exclude each other (hi vs lo) */
  group: string;
  /** higher = more severe within the group */
  rank: number;
  cmp: 'gt' | 'lt';
  limit: number;
  severity: Severity;
  /** which of the two values given to `observe` the level is judged on (0 = a, 1 = b) */
  arg: 0 | 1;
}

export interface LevelState {
  /** the level the condition is confirmed at; null = condition inactive */
  confirmed: string | null;
  /** level name → start of the continuous run beyond it (data time) */
  beyondSince: Record<string, number>;
  /** start of the run during which the confirmed level was not beyond (data time) */
  leftSince: number | null;
  /** time of the last observation */
  lastT: number | null;
  /**
   * The last values given to `observe` as `a` and `b`, for messages (a level's
   * last value is the one of its `arg`); null = none yet. Two fields, not a
   * record by level name: rebuilding that record cost every observation about
   * 150 bytes. Absent in states saved before them.
   */
  lastA?: number | null;
  lastB?: number | null;
  /**
   * Last value per level name: what states saved before lastA/lastB hold, read
   * for them only. New states keep it empty (one shared object) so that a
   * server of an earlier version can still load them.
   */
  lastValue: Record<string, number>;
}

/** The lastValue of new states: never written to. */
const NO_LAST_VALUES: Record<string, number> = Object.freeze({}) as Record<string, number>;

export function initialLevels(): LevelState {
  return { confirmed: null, beyondSince: {}, leftSince: null, lastT: null, lastA: null, lastB: null, lastValue: NO_LAST_VALUES };
}

/** The last value the level was judged on, if any (for messages). */
export function lastValueOf(s: LevelState, d: LevelDef): number | undefined {
  const v = d.arg === 0 ? s.lastA : s.lastB;
  return v === undefined || v === null ? s.lastValue?.[d.name] : v;
}

/** lastA or lastB of a state saved before them: from its lastValue, by a level with that arg. */
function legacyLast(s: LevelState, defs: readonly LevelDef[], arg: 0 | 1): number | null {
  for (let i = 0; i < defs.length; i++) {
    const v = defs[i]!.arg === arg ? s.lastValue?.[defs[i]!.name] : undefined;
    if (v !== undefined) return v;
  }
  return null;
}

function beyond(def: LevelDef, v: number, confirmed: LevelDef | undefined, deadband: number): boolean {
  const holding = confirmed !== undefined && confirmed.group === def.group && confirmed.rank >= def.rank;
  const db = holding ? deadband : 0;
  return def.cmp === 'gt' ? v > def.limit - db : v < def.limit + db;
}

/** The level named `name`; a loop, not `defs.find`: a callback would be a closure per call on the hot path. */
function defNamed(defs: readonly LevelDef[], name: string | null): LevelDef | undefined {
  if (name === null) return undefined;
  for (let i = 0; i < defs.length; i++) if (defs[i]!.name === name) return defs[i];
  return undefined;
}

/**
 * Records one evaluation. A level is judged on `a` or `b` by its `arg`
 * (two numbers rather than a callback: a callback would be a closure, and its
 * captured values a context, allocated on every reading of every rule);
 * undefined leaves that level's run as it is (no new information).
 * `from` is the start of the interval the value stands for (a 1-min mean
 * starts at its minute) and `t` its end; for a plain sample both are its time.
 * `own`: the caller gives `s` up (engine.ts stepOwned), so it is updated and
 * returned instead of copied.
 */
export function observe(
  s: LevelState,
  defs: readonly LevelDef[],
  a: number | undefined,
  b: number | undefined,
  deadband: number,
  from: number,
  t: number,
  own = false,
): LevelState {
  // Runs on every reading of every rule: no spreads or deletes (a deleted key
  // turns an object into a slow dictionary, and every later copy with it).
  // The runs are rebuilt only when one starts or ends, else shared.
  const confirmed = defNamed(defs, s.confirmed);
  let changed = false;
  let known = 0;
  for (let i = 0; i < defs.length; i++) {
    const d = defs[i]!;
    const had = s.beyondSince[d.name] !== undefined;
    if (had) known++;
    const v = d.arg === 0 ? a : b;
    if (v === undefined) continue;
    if (beyond(d, v, confirmed, deadband) !== had) changed = true;
  }
  // runs of levels the rule no longer has (rule edited at runtime) are dropped;
  // counted with for-in, which unlike Object.keys allocates no array
  if (!changed) {
    let keys = 0;
    for (const _k in s.beyondSince) keys++;
    if (keys !== known) changed = true;
  }
  let beyondSince = s.beyondSince;
  if (changed) {
    beyondSince = {};
    for (let i = 0; i < defs.length; i++) {
      const d = defs[i]!;
      const since = s.beyondSince[d.name];
      const v = d.arg === 0 ? a : b;
      const now = v === undefined ? since : beyond(d, v, confirmed, deadband) ? (since ?? from) : undefined;
      if (now !== undefined) beyondSince[d.name] = now;
    }
  }
  let leftSince = s.leftSince;
  if (s.confirmed !== null) {
    if (beyondSince[s.confirmed] !== undefined) leftSince = null;
    else leftSince ??= from;
  }
  // a state saved before lastA/lastB: its last values move over from lastValue (once)
  const lastA = a ?? (s.lastA === undefined ? legacyLast(s, defs, 0) : s.lastA);
  const lastB = b ?? (s.lastB === undefined ? legacyLast(s, defs, 1) : s.lastB);
  if (!own) return { confirmed: s.confirmed, beyondSince, leftSince, lastT: t, lastA, lastB, lastValue: NO_LAST_VALUES };
  s.beyondSince = beyondSince;
  s.leftSince = leftSince;
  s.lastT = t;
  s.lastA = lastA;
  s.lastB = lastB;
  s.lastValue = NO_LAST_VALUES;
  return s;
}

/** Forgets every running exceedance (continuity broken by a gap in the data). */
export function breakContinuity(s: LevelState, at: number): LevelState {
  const beyondSince: Record<string, number> = {};
  // the confirmed level keeps its alarm; its off-delay restarts from the break
  return { ...s, beyondSince, leftSince: s.confirmed === null ? null : at };
}

export interface LevelChange {
  /** new confirmed level, null = inactive */
  to: LevelDef | null;
  /** name of the level that was confirmed before, null = was inactive */
  from: string | null;
}

/** A change `decide` made, with the levels after it. */
export interface Decision {
  state: LevelState;
  change: LevelChange;
}

/**
 * Applies on/off delays at time t. At most one change per call; null when
 * nothing changes (the common case, on every reading: no result object).
 */
export function decide(s: LevelState, defs: readonly LevelDef[], onDelayMs: number, offDelayMs: number, t: number): Decision | null {
  const conf = defNamed(defs, s.confirmed) ?? null;
  if (s.confirmed !== null && conf === null) {
    // the rule lost this level (edited): the condition as configured is gone
    return { state: { ...s, confirmed: null, leftSince: null }, change: { from: s.confirmed, to: null } };
  }
  let best: LevelDef | null = null;
  for (let i = 0; i < defs.length; i++) {
    const d = defs[i]!;
    const since = s.beyondSince[d.name];
    if (since === undefined || t - since < onDelayMs) continue;
    if (best === null || d.rank > best.rank) best = d;
  }
  if (best !== null && (conf === null || best.group !== conf.group || best.rank > conf.rank)) {
    return { state: { ...s, confirmed: best.name, leftSince: null }, change: { from: conf?.name ?? null, to: best } };
  }
  if (conf !== null && s.leftSince !== null && t - s.leftSince >= offDelayMs) {
    // leave the confirmed level: down to a lower level of the same group that has run its on-delay, or off
    const target = best !== null && best.group === conf.group && best.rank < conf.rank ? best : null;
    return { state: { ...s, confirmed: target?.name ?? null, leftSince: null }, change: { from: conf.name, to: target } };
  }
  return null;
}
