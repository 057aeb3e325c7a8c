/**
 * Rule engine micro-benchmark, in process: the default rules (the rules file
 * with `useDefaults: true` and nothing else) over a synthetic feed of
 * N devices × M readings, through the path the alarm service takes per
 * reading — for every rule of rulesForDevice(), stepOwned() on the state the
 * map holds, the result stored back — plus one tick() of every state per
 * simulated second, as the service's timer does.
 *
 *   npx tsx bench/rules-engine.ts
 *   GW_BENCH_DEVICES=200     devices (half transformer meters, half line meters)
 *   GW_BENCH_READINGS=600    readings per device, one per simulated second
 *   GW_BENCH_WARMUP=0.2      share of the feed evaluated before measuring starts
 *
 * It imports only server/rules/index.ts (and the contract and derive.ts), so
 * the same file runs against an older tree to compare. Inputs are built before
 * measuring: the figures are the engine's alone. It reports CPU µs per reading
 * (process.cpuUsage, user + system) and per tick of one state, and garbage
 * collections seen during the measured part (minor = scavenges: roughly the
 * allocation, as the young generation has a fixed size). The last line is
 * the same as JSON. Nothing is asserted: it is a measurement.
 */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { DevicePlace, Values } from '../contract/index.ts';
import { withDerived } from '../server/derive.ts';
import { parseRules, rulesForDevice, stepOwned, tick, type Rule, type RuleInput, type RuleState } from '../server/rules/index.ts';

const DEVICES = Number(process.env.GW_BENCH_DEVICES ?? 200);
const READINGS = Number(process.env.GW_BENCH_READINGS ?? 600);
const WARMUP = Number(process.env.GW_BENCH_WARMUP ?? 0.2);
const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const LAG_MS = 40;

/** A small deterministic PRNG (mulberry32): every run sees the same feed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const parsed = parseRules({ version: 1, useDefaults: true, rules: [] });
if (!parsed.ok) throw new Error(`default rules do not parse: ${JSON.stringify(parsed.errors)}`);
const RULES = parsed.rules;

interface Dev {
  id: string;
  place: DevicePlace;
  rules: Readonly<Rule>[];
}

const devices: Dev[] = [];
for (let d = 0; d < DEVICES; d++) {
  const tx = d % 2 === 0;
  const id = `bench-m${d}`;
  const place: DevicePlace = tx
    ? { site: 's1', room: `r${d % 10}`, transformer: `t${d}`, line: '', device: id, role: 'transformer', ratedKva: 630 }
    : { site: 's1', room: `r${d % 10}`, transformer: `t${d - 1}`, line: `l${d}`, device: id, role: 'line', ratedCurrentA: 400 };
  devices.push({ id, place, rules: rulesForDevice(RULES, id, place) });
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

const states = new Map<string, Map<string, RuleState>>();
for (const r of RULES) states.set(r.id, new Map());

let transitions = 0;
let steps = 0;

function readingsOf(i: number): void {
  const row = inputs[i]!;
  const now = T0 + i * 1000 + LAG_MS;
  for (let d = 0; d < DEVICES; d++) {
    const dev = devices[d]!;
    const input = row[d]!;
    for (let k = 0; k < dev.rules.length; k++) {
      const rule = dev.rules[k]!;
      const m = states.get(rule.id)!;
      const prev = m.get(dev.id);
      const res = stepOwned(prev, input, rule, now);
      if (res.state !== prev) m.set(dev.id, res.state);
      if (res.transition) transitions++;
      steps++;
    }
  }
}

let ticked = 0;
function tickAll(i: number): void {
  const now = T0 + i * 1000 + 500;
  for (const rule of RULES) {
    const m = states.get(rule.id)!;
    for (const [src, st] of m) {
      const res = tick(st, rule, now);
      if (res.state !== st) m.set(src, res.state);
      if (res.transition) transitions++;
      ticked++;
    }
  }
}

const warm = Math.floor(READINGS * WARMUP);
for (let i = 0; i < warm; i++) {
  readingsOf(i);
  tickAll(i);
}

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

transitions = 0;
steps = 0;
ticked = 0;
let stepCpu = 0;
let tickCpu = 0;
const heap0 = process.memoryUsage().heapUsed;
const wall0 = performance.now();
for (let i = warm; i < READINGS; i++) {
  const c0 = process.cpuUsage();
  readingsOf(i);
  const c1 = process.cpuUsage(c0);
  stepCpu += c1.user + c1.system;
  const c2 = process.cpuUsage();
  tickAll(i);
  const c3 = process.cpuUsage(c2);
  tickCpu += c3.user + c3.system;
}
const wallMs = performance.now() - wall0;
const heap1 = process.memoryUsage().heapUsed;

// let the observer deliver the last entries
await new Promise((r) => setTimeout(r, 50));
obs.disconnect();

const readings = (READINGS - warm) * DEVICES;
const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
const out = {
  devices: DEVICES,
  readings,
  rulesPerDevice: +(devices.reduce((n, d) => n + d.rules.length, 0) / DEVICES).toFixed(2),
  steps,
  transitions,
  cpuUsPerReading: +(stepCpu / readings).toFixed(3),
  cpuUsPerStep: +(stepCpu / steps).toFixed(3),
  cpuUsPerTickedState: +(tickCpu / Math.max(1, ticked)).toFixed(3),
  wallMs: Math.round(wallMs),
  gcMinor: gc.minor,
  gcMajor: gc.major,
  gcPauseMs: +gc.pauseMs.toFixed(1),
  minorGcPer10kReadings: +((gc.minor / readings) * 10_000).toFixed(2),
  newSpaceKb: newSpace ? Math.round(newSpace.space_size / 1024) : null,
  heapUsedDeltaKb: Math.round((heap1 - heap0) / 1024),
};
console.log(
  `${out.readings} readings (${out.devices} devices, ${out.rulesPerDevice} rules each), ${out.transitions} transitions: ` +
    `${out.cpuUsPerReading} µs CPU/reading (${out.cpuUsPerStep} µs/step), tick ${out.cpuUsPerTickedState} µs/state, ` +
    `GC ${out.gcMinor} minor / ${out.gcMajor} major (${out.minorGcPer10kReadings} minor per 10k readings, ${out.gcPauseMs} ms paused), wall ${out.wallMs} ms`,
);
console.log(JSON.stringify(out));
