/**
 * Outage pool micro-benchmark, in process: a topology of F feeders × T
 * transformers × L lines with N customers (two contacts each) built into the
 * pool's grid; the affected customers of one feeder (what a plan's list and a
 * feeder outage need); the notices of a plan on that feeder composed (one per
 * contact, keyed); a pool tick's measured-outage derivation over every
 * transformer dark. Times are wall-clock ms of one run after a warm-up run,
 * figures printed, nothing asserted.
 *
 *   npx tsx bench/outage-pool.ts
 *   GW_BENCH_CUSTOMERS=100000  customers
 *   GW_BENCH_FEEDERS=20        10 kV feeders (transformers spread evenly)
 *   GW_BENCH_TRANSFORMERS=1000 transformers, 4 lines each
 */
import { performance } from 'node:perf_hooks';
import { parseTopology, type Topology } from '../contract/index.ts';
import { Grid } from '../server/outages/grid.ts';
import { deriveOutages, type DarkCondition } from '../server/outages/measured.ts';
import { composeNotices } from '../server/outages/notices.ts';

const N = Number(process.env.GW_BENCH_CUSTOMERS ?? 100_000);
const F = Number(process.env.GW_BENCH_FEEDERS ?? 20);
const T = Number(process.env.GW_BENCH_TRANSFORMERS ?? 1000);
const LINES = 4;

function topology(): Topology {
  const transformers = Array.from({ length: T }, (_, t) => ({
    id: `T${t}`,
    name: `${t}号变`,
    ratedKva: 400,
    feeder: `F${t % F}`,
    meter: `mT${t}`,
    lines: Array.from({ length: LINES }, (_, l) => ({ id: `L${t}-${l}`, name: `L${l}`, meter: `mL${t}-${l}` })),
  }));
  const customers = Array.from({ length: N }, (_, i) => {
    const t = i % T;
    return { id: `C${i}`, name: `用户${i}`, important: i % 997 === 0, site: 's1', transformer: `T${t}`, line: `L${t}-${i % LINES}`, contacts: [{ name: 'a', phone: `138${String(i).padStart(8, '0')}` }, { name: 'b', phone: `139${String(i).padStart(8, '0')}` }] };
  });
  const r = parseTopology({ feeders: Array.from({ length: F }, (_, f) => ({ id: `F${f}`, name: `10kV ${f}线` })), sites: [{ id: 's1', name: 'S1', rooms: [{ id: 'r1', name: 'R1', transformers }] }], customers });
  if (!r.ok) throw new Error(JSON.stringify(r.errors.slice(0, 3)));
  return r.topology;
}

function time<X>(fn: () => X): { ms: number; out: X } {
  fn();
  const t0 = performance.now();
  const out = fn();
  return { ms: Math.round((performance.now() - t0) * 10) / 10, out };
}

const parsed = time(topology);
const grid = time(() => new Grid(parsed.out));
const feeder = time(() => grid.out.customersOf([{ kind: 'feeder', feeder: 'F0' }]));
const notices = time(() => composeNotices({ kind: 'plan', id: 'P1' }, 'outage_planned', feeder.out, grid.out, { reason: '检修', start: '2026-10-01 08:00', end: '2026-10-01 12:00', scope: '10kV 0线', hotline: '95598' }));
const conds: DarkCondition[] = [...grid.out.transformers.values()].map((t) => ({ alarmId: `outage:${t.key}`, scope: 'transformer', site: t.site, transformer: t.transformer, meters: [t.meter!], source: t.key, since: 0 }));
let n = 0;
const derive = time(() => deriveOutages([], conds, grid.out, 1000, 120_000, () => `O${++n}`));
const figures = {
  customers: N,
  transformers: T,
  feeders: F,
  topologyParseMs: parsed.ms,
  gridBuildMs: grid.ms,
  feederCustomers: feeder.out.length,
  feederCustomersMs: feeder.ms,
  notices: notices.out.length,
  noticesComposeMs: notices.ms,
  everyTransformerDarkOutages: derive.out.opened.length,
  deriveMs: derive.ms,
};
for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(28)} ${v}`);
console.log(JSON.stringify(figures));
