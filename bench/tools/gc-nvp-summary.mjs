// One line per garbage collection of a `--trace-gc-nvp` log, and the scavenges' averages:
//   GW_BENCH_NODE_FLAGS="--max-semi-space-size=64 --trace-gc-nvp" GW_BENCH_SERVER_STDOUT=gc.log npx tsx bench/alarms.ts
//   node bench/tools/gc-nvp-summary.mjs gc.log [from-ms]
// s = scavenge, mc = mark-compact; pause and mutator (time since the last GC) in ms; allocated, survived
// (copied within the young generation) and promoted in MB. A scavenge costs about what survives it, and what is
// promoted costs again in the next mark-compact: in the alarm bench a healthy server promotes ~0.5 MB per
// scavenge; 2.5-4.5 MB per scavenge meant something was holding every reading (docs/performance.md, how the hot path is built).
import fs from 'node:fs';

const [file, fromArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/tools/gc-nvp-summary.mjs gc.log [from-ms]');
  process.exit(2);
}
const from = Number(fromArg ?? 0);
const rows = [];
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  // the main isolate only: worker threads (pino's transport, if any) have other addresses; the first one seen is the main one
  const m = line.match(/^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: (pause=.* gc=(s|mc|ms) .*)$/);
  if (!m) continue;
  const f = Object.fromEntries([...m[3].matchAll(/(\S+)=(\S+)/g)].map((x) => [x[1], x[2]]));
  rows.push({ isolate: m[1], t: Number(m[2]), gc: f.gc, pause: +f.pause, mutator: +f.mutator, allocated: +f.allocated / 1e6, survived: +f.new_space_survived / 1e6, promoted: +f.promoted / 1e6 });
}
const main = rows[0]?.isolate;
const mine = rows.filter((r) => r.isolate === main && r.t >= from);
for (const r of mine)
  console.log(`${String(r.t).padStart(7)} ${r.gc.padEnd(2)} pause ${r.pause.toFixed(1).padStart(5)}  mutator ${r.mutator.toFixed(0).padStart(6)}  allocated ${r.allocated.toFixed(1).padStart(5)}  survived ${r.survived.toFixed(2).padStart(5)}  promoted ${r.promoted.toFixed(2).padStart(5)}`);
const s = mine.filter((r) => r.gc === 's');
const avg = (k) => (s.length ? s.reduce((a, r) => a + r[k], 0) / s.length : 0).toFixed(2);
console.log(`${s.length} scavenges: pause ${avg('pause')} ms, survived ${avg('survived')} MB, promoted ${avg('promoted')} MB on average; ${mine.filter((r) => r.gc !== 's').length} mark-compacts`);
