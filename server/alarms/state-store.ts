/**
 * Rule state across restarts and crashes: the file `<dataDir>/alarm-rule-state.json`
 * and how it is brought in line with the alarm journal at start.
 *
 * Two records of one truth. The journal holds the alarms (what operators
 * see); the rule state holds what the rules know (confirmed levels, running
 * delays, baselines, stale counts). They drift apart in a crash: transitions
 * still queued for the journal are lost while the rule state that made them
 * may already be on disk, or the other way round. Two measures:
 *
 *  - ORDER. A snapshot records the journal seq it may reflect (the last seq
 *    assigned when its serialisation ended) and is written to disk only once
 *    the journal has durably stored that seq. The file is therefore never
 *    ahead of the journal: a hung or failing store holds the snapshot back
 *    (the previous file stays), it is not written over.
 *  - RECONCILIATION at start (`reconcileStates`): the file may still be
 *    behind the journal (transitions journaled after the snapshot), or stem
 *    from a server without this order. Per (rule, source) the journal wins:
 *      alarm active, rule condition not   → the condition is taken as
 *        confirmed at the alarm's level, so the next readings back inside the
 *        limits run the off-delay and clear it (no alarm stuck);
 *      rule condition active, alarm not   → the condition is dropped (its
 *        running exceedance kept), so readings still beyond the limit confirm
 *        it again and raise (no alarm missing);
 *    for every rule kind with per-source state: threshold, rate of change,
 *    unbalance, anomaly (levels), stale (active flag; silence counted anew),
 *    call (active until the alarm's start plus the call's time), outage (a
 *    dark meter per meter or transformer outage alarm, so the correlation
 *    yields the journal's outage alarms on its first round).
 *    Agent and broker alarms (stale rule, source an agent or the broker)
 *    follow presence, not rule state, and are left alone here.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { conditionActive, initialState, type Alarm, type Rule, type RuleState } from '../rules/index.ts';

export const STATE_FILE = 'alarm-rule-state.json';

export interface PersistedState {
  version: 1;
  savedAt: number;
  /** the last journal seq the states may reflect; absent in files written before it was kept */
  seq?: number;
  states: Record<string, Record<string, RuleState>>;
  lags: Record<string, number>;
  sites: Record<string, string>;
}

export function stateFile(dataDir: string): string {
  return path.join(dataDir, STATE_FILE);
}

/** The saved state, null when there is none; throws when the file is unreadable or of an unknown version. */
export async function readStateFile(file: string): Promise<PersistedState | null> {
  if (!existsSync(file)) return null;
  const saved = JSON.parse(await readFile(file, 'utf8')) as PersistedState;
  if (saved.version !== 1 || typeof saved.states !== 'object' || saved.states === null) throw new Error(`unknown version ${String(saved.version)}`);
  return saved;
}

/** Replaces the file atomically (write aside, rename). */
export async function writeStateFile(file: string, json: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, json);
  await rename(tmp, file);
}

/**
 * The PersistedState's JSON, built a slice of entries per turn of the event
 * loop: a province's rule state is megabytes, and readings and alarm pushes
 * must not wait behind one synchronous JSON.stringify of it. A slice ends
 * after SLICE_MS: slices of 2000 entries took 7–27 ms each in the alarm
 * bench (3,200 states, 0.7 MB, every 5 s), long enough to hold back the
 * alarms of the messages that arrived meanwhile.
 *
 * Readings update the states in place meanwhile, so each state is written as
 * it is when its turn comes. `seqNow` is read once the last state is written:
 * no state in the text reflects a transition after it.
 */
export async function serialiseInSlices(
  savedAt: number,
  states: readonly (readonly [string, readonly (readonly [string, RuleState])[]])[],
  lags: readonly (readonly [string, number])[],
  sites: readonly (readonly [string, string])[],
  seqNow: () => number,
): Promise<{ json: string; seq: number }> {
  const SLICE_MS = 2;
  const parts: string[] = [];
  let n = 0;
  let sliceStart = performance.now();
  /** a JSON object of the entries, each value written by `value` */
  const object = async <V>(entries: readonly (readonly [string, V])[], value: (v: V) => Promise<void> | void): Promise<void> => {
    parts.push('{');
    for (let i = 0; i < entries.length; i++) {
      const [k, v] = entries[i]!;
      parts.push(`${i ? ',' : ''}${JSON.stringify(k)}:`);
      await value(v);
      if (++n % 32 === 0 && performance.now() - sliceStart >= SLICE_MS) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
      }
    }
    parts.push('}');
  };
  const json = (v: unknown) => void parts.push(JSON.stringify(v));
  const version: PersistedState['version'] = 1;
  parts.push(`{"version":${version},"savedAt":${savedAt},"states":`);
  await object(states, (bySource) => object(bySource, json));
  parts.push(',"lags":');
  await object(lags, json);
  parts.push(',"sites":');
  await object(sites, json);
  // synchronously with the join: nothing can step in between
  const seq = seqNow();
  parts.push(`,"seq":${seq}}`);
  return { json: parts.join(''), seq };
}

// ---------------------------------------------------------------- reconciliation

/** One (rule, source) whose rule state was brought in line with its alarm. */
export interface StateFix {
  ruleId: string;
  source: string;
  /** `assumed`: the alarm's condition taken into the state; `dropped`: the state's condition dropped */
  fix: 'assumed' | 'dropped';
}

/**
 * Brings the rule states in line with the alarms rebuilt from the journal
 * (see the file comment), in place. `presenceSource(rule, source)`: alarms
 * whose condition follows presence (agent, broker), skipped. Returns what it
 * changed.
 */
export function reconcileStates(
  alarms: ReadonlyMap<string, Alarm>,
  states: Map<string, Map<string, RuleState>>,
  rules: readonly Readonly<Rule>[],
  presenceSource: (rule: Readonly<Rule>, source: string) => boolean,
  now: number,
): StateFix[] {
  const fixes: StateFix[] = [];
  for (const rule of rules) {
    if (!rule.enabled) continue;
    let bySource = states.get(rule.id);
    if (!bySource) states.set(rule.id, (bySource = new Map()));
    const mine = [...alarms.values()].filter((a) => a.ruleId === rule.id && !presenceSource(rule, a.source));
    if (rule.kind === 'outage') {
      reconcileOutage(rule, mine, bySource, now, fixes);
      continue;
    }
    const activeAlarm = new Map(mine.filter((a) => a.active).map((a) => [a.source, a]));
    for (const [source, a] of activeAlarm) {
      const st = bySource.get(source);
      const own = st !== undefined && st.kind === rule.kind ? st : undefined;
      if (own && conditionActive(own) && sameLevel(own, a)) continue;
      bySource.set(source, assume(own, rule, a, now));
      fixes.push({ ruleId: rule.id, source, fix: 'assumed' });
    }
    for (const [source, st] of bySource) {
      if (activeAlarm.has(source) || presenceSource(rule, source) || st.kind !== rule.kind || !conditionActive(st)) continue;
      bySource.set(source, drop(st, now));
      fixes.push({ ruleId: rule.id, source, fix: 'dropped' });
    }
  }
  return fixes;
}

function sameLevel(st: RuleState, a: Alarm): boolean {
  return !('levels' in st) || st.levels.confirmed === a.level;
}

/** The state with the alarm's condition confirmed: the next readings decide whether it stays. */
function assume(st: RuleState | undefined, rule: Readonly<Rule>, a: Alarm, now: number): RuleState {
  const base = st ?? initialState(rule as Rule, now);
  switch (base.kind) {
    case 'stale':
    case 'line_loss':
      return { ...base, active: true };
    case 'call': {
      const since = a.activeSince ?? now;
      const activeS = rule.kind === 'call' ? rule.activeS : 0;
      return { ...base, lastTs: base.lastTs ?? since, activeUntil: since + activeS * 1000 };
    }
    default:
      // an unknown level (the rule was edited since) is left by the next decision, which clears the alarm
      return { ...base, levels: { ...base.levels, confirmed: a.level ?? '', leftSince: null } };
  }
}

/** The state without its condition; a running exceedance is kept, so it confirms again if it goes on. */
function drop(st: RuleState, now: number): RuleState {
  switch (st.kind) {
    case 'stale':
      return { ...st, active: false, refAt: Math.max(st.refAt, now) };
    case 'call':
      return { ...st, activeUntil: null };
    case 'line_loss':
      return { ...st, active: false, count: 0 };
    default:
      return { ...st, levels: { ...st.levels, confirmed: null, leftSince: null } };
  }
}

/** Outage: the meters the journal's active outage alarms name are dark; no other meter is. */
function reconcileOutage(rule: Readonly<Rule>, alarms: readonly Alarm[], bySource: Map<string, RuleState>, now: number, fixes: StateFix[]): void {
  const dark = new Set<string>();
  for (const a of alarms) {
    if (!a.active) continue;
    const meters = a.detail?.meters;
    if (Array.isArray(meters)) for (const m of meters) if (typeof m === 'string') dark.add(m);
    if (a.detail?.scope !== 'transformer') dark.add(a.source);
  }
  for (const m of dark) {
    const st = bySource.get(m);
    const own = st?.kind === 'outage' ? st : undefined;
    if (own?.levels.confirmed === 'dark') continue;
    const base = own ?? (initialState(rule as Rule, now) as Extract<RuleState, { kind: 'outage' }>);
    bySource.set(m, { ...base, levels: { ...base.levels, confirmed: 'dark', leftSince: null } });
    fixes.push({ ruleId: rule.id, source: m, fix: 'assumed' });
  }
  for (const [m, st] of bySource) {
    if (dark.has(m) || st.kind !== 'outage' || st.levels.confirmed === null) continue;
    bySource.set(m, drop(st, now));
    fixes.push({ ruleId: rule.id, source: m, fix: 'dropped' });
  }
}
