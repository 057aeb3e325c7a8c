/** Drivers for the rules tests: feed samples and ticks, collect condition transitions. */
import type { Quality, Values } from '../../contract/index.ts';
import { parseRules, step, tick, type ConditionTransition, type Rule, type RuleState } from '../../server/rules/index.ts';

export const T0 = Date.UTC(2025, 5, 2, 0, 0, 0); // a Monday, 08:00 in China

/** Parses one rule (without the defaults); throws on a bad rule. */
export function rule<R extends Rule = Rule>(doc: Record<string, unknown>): R {
  const r = parseRules({ useDefaults: false, rules: [doc] });
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return r.rules[0] as R;
}

export interface Sample {
  /** epoch ms of the reading (and, by default, of its arrival) */
  t: number;
  values: Values;
  q?: Quality;
  late?: boolean;
  /** arrival (server now); default t */
  now?: number;
}

export interface Event extends ConditionTransition {}

/**
 * Feeds samples in order; with `tickMs`, also ticks at every multiple of tickMs
 * between samples (as the server's once-a-second loop would) up to `until`.
 */
export function drive(
  r: Rule,
  samples: readonly Sample[],
  opts: { tickMs?: number; until?: number; state?: RuleState; roundTripAt?: number } = {},
): { events: Event[]; state: RuleState | undefined } {
  let state = opts.state;
  const events: Event[] = [];
  let roundTripped = false;
  const maybeRoundTrip = (t: number) => {
    if (opts.roundTripAt !== undefined && !roundTripped && t >= opts.roundTripAt && state !== undefined) {
      state = JSON.parse(JSON.stringify(state)) as RuleState;
      roundTripped = true;
    }
  };
  let nextTick = opts.tickMs !== undefined && samples.length ? Math.ceil(samples[0]!.t / opts.tickMs) * opts.tickMs : Infinity;
  const runTicksUntil = (limit: number) => {
    if (opts.tickMs === undefined) return;
    while (nextTick < limit) {
      maybeRoundTrip(nextTick);
      const res = tick(state, r, nextTick);
      state = res.state;
      if (res.transition) events.push(res.transition);
      nextTick += opts.tickMs;
    }
  };
  for (const s of samples) {
    runTicksUntil(s.t);
    maybeRoundTrip(s.t);
    const input = { ts: s.t, values: s.values, q: s.q ?? 'good', ...(s.late ? { late: true } : {}) } as const;
    const res = step(state, input, r, s.now ?? s.t);
    state = res.state;
    if (res.transition) events.push(res.transition);
  }
  runTicksUntil(opts.until ?? -Infinity);
  return { events, state };
}

/** A deterministic PRNG (mulberry32) so noisy scenarios are reproducible. */
export { prng } from '../support/prng.ts';

/** Standard normal from a uniform PRNG (Box–Muller). */
export function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** Short form of transitions for exact assertions: [to, level, at relative to base]. */
export function brief(events: readonly ConditionTransition[], base = T0): [string, string, number][] {
  return events.map((e) => [e.to, e.level, e.at - base]);
}
