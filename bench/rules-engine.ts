/**
 * Rule engine micro-benchmark, in process: the default rules (the rules file
 * with `useDefaults: true` and nothing else) over a synthetic feed of
 * N devices × M readings, through the path the alarm service takes per
 * reading — for every rule of rulesForDevice() whose judged quantities the
 * reading carries (judgedQuantities: dispatch by quantity; an older tree
 * without it steps every rule), stepOwned() on the state the map holds, the
 * result stored back — plus one tick() of every state per
 * simulated second, as the service's timer does.
 *
 *   npx tsx bench/rules-engine.ts
 *   GW_BENCH_DEVICES=200     devices (half transformer meters, half line meters)
 *   GW_BENCH_READINGS=600    readings per device, one per simulated second
 *   GW_BENCH_WARMUP=0.2      share of the feed evaluated before measuring starts
 *
 *   GW_BENCH_COMPARE=<tree>  also load <tree>/server/rules/index.ts (an older
 *                            checkout) and run both engines in this process,
 *                            alternating every GW_BENCH_BLOCK simulated seconds
 *                            (default 10), so both see the same machine load
 *
 * It imports only server/rules/index.ts (and the contract and derive.ts), so
 * the same file also runs inside an older tree. Inputs are built before
 * measuring: the figures are the engine's alone. It reports CPU µs per reading
 * (process.cpuUsage, user + system) and per tick of one state, and garbage
 * collections seen during the measured part (minor = scavenges: roughly the
 * allocation, as the young generation has a fixed size), and a digest of
 * every transition (rule, source, level, time, message): equal digests of two
 * trees = the same alarms from the same feed. The last line is the same as JSON. Nothing is asserted: it is a measurement.
 */
import { createHash } from 'node:crypto';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import type { DevicePlace, Values } from '../contract/index.ts';
import { withDerived } from '../server/derive.ts';
import * as here from '../server/rules/index.ts';
import type { Rule, RuleInput, RuleState, StepResult } from '../server/rules/index.ts';
import { prng } from '../simulators/prng.ts';

const DEVICES = Number(process.env.GW_BENCH_DEVICES ?? 200);
const READINGS = Number(process.env.GW_BENCH_READINGS ?? 600);
const WARMUP = Number(process.env.GW_BENCH_WARMUP ?? 0.2);
const COMPARE = process.env.GW_BENCH_COMPARE;
const BLOCK = Number(process.env.GW_BENCH_BLOCK ?? 10);
const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const LAG_MS = 40;


interface Dev {
  id: string;
  place: DevicePlace;
}

const devices: Dev[] = [];
for (let d = 0; d < DEVICES; d++) {
  const tx = d % 2 === 0;
  const id = `bench-m${d}`;
  const place: DevicePlace = tx
    ? { site: 's1', room: `r${d % 10}`, transformer: `t${d}`, line: '', device: id, role: 'transformer', ratedKva: 630 }
    : { site: 's1', room: `r${d % 10}`, transformer: `t${d - 1}`, line: `l${d}`, device: id, role: 'line', ratedCurrentA: 400 };
  devices.push({ id, place });
}

/**
 * Values of device d at second i: a daily-ish load curve with noise; now and
 * then a voltage excursion, a load step or a dark meter, so levels are
 * entered and left (transitions are counted and reported).
 */
function valuesAt(rnd: () => number, d: number, i: number): Values {
  const load = 0.5 + 0.3 * Math.sin((i + d * 7) / 90) + 0.05 * rnd();
  let u = 230 + 3 * (rnd() - 0.5);
  if ((i + d * 13) % 400 < 20) u = 252 + rnd();
  if ((i + d * 17) % 997 < 8) u = 0;
  const base = 400 * load * ((i + d * 5) % 300 < 10 ? 2.2 : 1);
  const v: Values = {
    ua: u,
    ub: u + rnd() - 0.5,
    uc: u + 2 * (rnd() - 0.5),
    ia: base,
    ib: base * (1 + 0.05 * rnd()),
    ic: base * (1 - 0.05 * rnd()),
    p: (3 * u * base) / 1000,
    q: 12 + rnd(),
    pf: 0.97,
    f: 50 + 0.04 * (rnd() - 0.5),
  };
  return withDerived(v, devices[d]!.place);
}

const rnd = prng(42);
// inputs[i][d]: second i, device d
const inputs: RuleInput[][] = [];
for (let i = 0; i < READINGS; i++) {
  const row: RuleInput[] = new Array(DEVICES);
  for (let d = 0; d < DEVICES; d++) row[d] = { ts: T0 + i * 1000 + d, values: valuesAt(rnd, d, i), q: 'good' };
  inputs.push(row);
}

/** Whether `values` carry one of `qs` (the alarm service's dispatch by quantity, carriesAny). */
function carries(values: Values, qs: readonly string[]): boolean {
  for (let i = 0; i < qs.length; i++) if ((values as Record<string, unknown>)[qs[i]!] !== undefined) return true;
  return false;
}

/** What the bench uses of a rules module (server/rules/index.ts of some tree). */
interface Engine {
  parseRules: (doc: unknown) => { ok: true; rules: readonly Readonly<Rule>[] } | { ok: false; errors: unknown[] };
  rulesForDevice: (rules: readonly Readonly<Rule>[], device: string, place: DevicePlace | undefined) => Readonly<Rule>[];
  stepOwned: (state: RuleState | undefined, input: RuleInput, rule: Rule, now: number) => StepResult;
  tick: (state: RuleState | undefined, rule: Rule, now: number) => StepResult;
  /** dispatch by quantity (absent in older trees: every rule is stepped) */
  judgedQuantities?: (rule: Readonly<Rule>) => readonly string[] | null;
}

/** One engine's rules and states over the shared feed, and what it measured. */
class Runner {
  readonly rules: readonly Readonly<Rule>[];
  readonly perDevice: Readonly<Rule>[][];
  /** per device, per rule: the quantities it judges (null: every reading), as the alarm service skips readings without them */
  readonly perDeviceQs: (readonly string[] | null)[][];
  readonly states = new Map<string, Map<string, RuleState>>();
  transitions = 0;
  steps = 0;
  ticked = 0;
  stepCpu = 0;
  tickCpu = 0;
  /** every transition of the measured part (a few hundred), hashed at the end: engines that behave alike print the same digest */
  readonly seen: unknown[] = [];

  constructor(
    readonly name: string,
    readonly e: Engine,
  ) {
    const parsed = e.parseRules({ version: 1, useDefaults: true, rules: [] });
    if (!parsed.ok) throw new Error(`${name}: default rules do not parse: ${JSON.stringify(parsed.errors)}`);
    this.rules = parsed.rules;
    for (const r of this.rules) this.states.set(r.id, new Map());
    this.perDevice = devices.map((d) => e.rulesForDevice(this.rules, d.id, d.place));
    this.perDeviceQs = this.perDevice.map((rs) => rs.map((r) => e.judgedQuantities?.(r) ?? null));
  }

  readingsOf(i: number): void {
    const row = inputs[i]!;
    const now = T0 + i * 1000 + LAG_MS;
    const stepOwned = this.e.stepOwned;
    for (let d = 0; d < DEVICES; d++) {
      const id = devices[d]!.id;
      const rules = this.perDevice[d]!;
      const qsOf = this.perDeviceQs[d]!;
      const input = row[d]!;
      for (let k = 0; k < rules.length; k++) {
        const rule = rules[k]!;
        const qs = qsOf[k]!;
        if (qs !== null && !carries(input.values, qs)) continue;
        const m = this.states.get(rule.id)!;
        const prev = m.get(id);
        const res = stepOwned(prev, input, rule as Rule, now);
        if (res.state !== prev) m.set(id, res.state);
        if (res.transition) {
          this.transitions++;
          this.seen.push([rule.id, id, res.transition]);
        }
        this.steps++;
      }
    }
  }

  tickAll(i: number): void {
    const now = T0 + i * 1000 + 500;
    for (const rule of this.rules) {
      const m = this.states.get(rule.id)!;
      for (const [src, st] of m) {
        const res = this.e.tick(st, rule as Rule, now);
        if (res.state !== st) m.set(src, res.state);
        if (res.transition) {
          this.transitions++;
          this.seen.push([rule.id, src, res.transition]);
        }
        this.ticked++;
      }
    }
  }

  /** seconds [from, to) of the feed, measured */
  run(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const c0 = process.cpuUsage();
      this.readingsOf(i);
      const c1 = process.cpuUsage(c0);
      this.stepCpu += c1.user + c1.system;
      const c2 = process.cpuUsage();
      this.tickAll(i);
      const c3 = process.cpuUsage(c2);
      this.tickCpu += c3.user + c3.system;
    }
  }

  reset(): void {
    this.transitions = this.steps = this.ticked = this.stepCpu = this.tickCpu = 0;
    this.seen.length = 0;
  }

  report(readings: number) {
    return {
      engine: this.name,
      devices: DEVICES,
      readings,
      rulesPerDevice: +(this.perDevice.reduce((n, r) => n + r.length, 0) / DEVICES).toFixed(2),
      steps: this.steps,
      transitions: this.transitions,
      transitionsDigest: createHash('sha256').update(JSON.stringify(this.seen)).digest('hex').slice(0, 16),
      cpuUsPerReading: +(this.stepCpu / readings).toFixed(3),
      cpuUsPerStep: +(this.stepCpu / Math.max(1, this.steps)).toFixed(3),
      cpuUsPerTickedState: +(this.tickCpu / Math.max(1, this.ticked)).toFixed(3),
    };
  }
}

const runners: Runner[] = [new Runner('this tree', here as unknown as Engine)];
if (COMPARE) runners.push(new Runner(COMPARE, (await import(pathToFileURL(path.resolve(COMPARE, 'server/rules/index.ts')).href)) as Engine));

const warm = Math.floor(READINGS * WARMUP);
for (const r of runners) r.run(0, warm);
for (const r of runners) r.reset();

const gc = { minor: 0, major: 0, other: 0, pauseMs: 0 };
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
    else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
    else gc.other++;
    gc.pauseMs += e.duration;
  }
});
obs.observe({ entryTypes: ['gc'] });

const heap0 = process.memoryUsage().heapUsed;
const wall0 = performance.now();
// in blocks, each engine in turn, the first alternating: both see the same machine load
for (let b = 0, i = warm; i < READINGS; b++, i += BLOCK) {
  const to = Math.min(READINGS, i + BLOCK);
  const order = b % 2 === 0 ? runners : [...runners].reverse();
  for (const r of order) r.run(i, to);
}
const wallMs = performance.now() - wall0;
const heap1 = process.memoryUsage().heapUsed;

// let the observer deliver the last entries
await new Promise((r) => setTimeout(r, 50));
obs.disconnect();

const readings = (READINGS - warm) * DEVICES;
const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
const shared = {
  wallMs: Math.round(wallMs),
  gcMinor: gc.minor,
  gcMajor: gc.major,
  gcPauseMs: +gc.pauseMs.toFixed(1),
  minorGcPer10kReadings: +((gc.minor / (readings * runners.length)) * 10_000).toFixed(2),
  newSpaceKb: newSpace ? Math.round(newSpace.space_size / 1024) : null,
  heapUsedDeltaKb: Math.round((heap1 - heap0) / 1024),
};
const results = runners.map((r) => r.report(readings));
for (const out of results)
  console.log(
    `${out.engine}: ${out.readings} readings (${out.devices} devices, ${out.rulesPerDevice} rules each), ${out.transitions} transitions (digest ${out.transitionsDigest}): ` +
      `${out.cpuUsPerReading} µs CPU/reading (${out.cpuUsPerStep} µs/step), tick ${out.cpuUsPerTickedState} µs/state`,
  );
console.log(
  `GC ${shared.gcMinor} minor / ${shared.gcMajor} major (${shared.minorGcPer10kReadings} minor per 10k readings${runners.length > 1 ? ', both engines together' : ''}, ${shared.gcPauseMs} ms paused), wall ${shared.wallMs} ms` +
    (results.length > 1 ? `; ratio this/other CPU per reading ${(results[0]!.cpuUsPerReading / results[1]!.cpuUsPerReading).toFixed(3)}` : ''),
);
console.log(JSON.stringify({ ...shared, results }));
