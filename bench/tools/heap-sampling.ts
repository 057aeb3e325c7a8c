/**
 * Loaded into the measured server with `--import` when GW_BENCH_HEAP=file is
 * set (bench/support.ts): SIGUSR2 starts V8's sampling heap profiler with
 * collected objects included, the next SIGUSR2 writes what was allocated
 * meanwhile, by call stack, to that file (Chrome DevTools opens it;
 * bench/tools/heapprofile-top.mjs prints the top allocators). This is how the
 * line-protocol encoder was found to make 29 % of the server's garbage.
 * Nothing here runs in production: the server itself does not know it.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const file = process.env.GW_BENCH_HEAP;
if (file) {
  const session = new Session();
  session.connect();
  let sampling = false;
  const promotedOnly = process.env.GW_BENCH_HEAP_PROMOTED === '1';
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!sampling) {
        sampling = true;
        // the include… flags (V8 ≥ 11) are not in @types/node's protocol types yet
        // GW_BENCH_HEAP_PROMOTED=1 leaves out what died in a scavenge. Not the same as "promoted": a mark-compact
        // collects the young generation too, and its young garbage is counted (all of it, ~50 MB per mark-compact
        // in the alarm bench), so such a profile looks much like the allocation profile unless the stage had no
        // mark-compact; with --expose-gc in GW_BENCH_NODE_FLAGS, two scavenges before the stop take out the young
        // garbage the stop's own full collection would count
        const params = { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !promotedOnly };
        await session.post('HeapProfiler.startSampling', params as { samplingInterval: number });
      } else {
        sampling = false;
        const gc = (globalThis as { gc?: (o: { type: string }) => void }).gc;
        if (gc && promotedOnly) for (let i = 0; i < 2; i++) gc({ type: 'minor' });
        const { profile } = await session.post('HeapProfiler.stopSampling');
        writeFileSync(file, JSON.stringify(profile));
      }
    })();
  });
}
