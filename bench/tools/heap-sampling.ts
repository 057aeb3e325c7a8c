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
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!sampling) {
        sampling = true;
        // the include… flags (V8 ≥ 11) are not in @types/node's protocol types yet
        // GW_BENCH_HEAP_PROMOTED=1 leaves out what died young: what is left outlived a scavenge (promoted, the cost of mark-compacts)
        const promotedOnly = process.env.GW_BENCH_HEAP_PROMOTED === '1';
        const params = { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !promotedOnly };
        await session.post('HeapProfiler.startSampling', params as { samplingInterval: number });
      } else {
        sampling = false;
        const { profile } = await session.post('HeapProfiler.stopSampling');
        writeFileSync(file, JSON.stringify(profile));
      }
    })();
  });
}
