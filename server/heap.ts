/**
 * How far V8 lets the old generation grow past what a mark-compact left
 * alive before it marks again, for a server that runs with a large young
 * generation (--max-semi-space-size=64: Dockerfile, npm start).
 *
 * V8 sets the next limit from the live old generation times a factor it
 * derives from how fast it collects against how fast the old generation
 * fills. This server fills it slowly (~1.6 MB/s at 35k readings/s: nearly
 * everything dies young), so V8 picks a factor of 1.2–1.4; and V8 starts
 * incremental marking as soon as the room left under the limit is less than
 * the young generation's capacity (2 × 64 MB). With ~48 MB alive that is at
 * once: in the alarm bench some runs compacted every 0.6 s, each compaction
 * ending in a 10–35 ms pause on the loop that delivers alarms
 * (`--trace-gc-verbose`: "[HeapController] factor 1.2 … new limit 120182 KB").
 * A fixed factor of 3 (200 %) leaves ~100 MB of room over 48 MB alive: the
 * next compaction comes after tens of seconds. The price is an old
 * generation up to three times what is alive — and, measured, more: with
 * fewer compactions the runs where ~5 MB per scavenge outlives it (README,
 * alarm bench) lasted longer, and the alarm p99 was no better (46.6 and
 * 37.9 ms against 41.9 and 31.4 with V8's own factor, same hour). So the
 * default leaves V8's factor; this is a knob to try on other heaps.
 *
 * Node refuses this V8 flag in NODE_OPTIONS; set at run time it applies to
 * every limit V8 computes afterwards (test/server/heap.test.ts checks that
 * on the Node in use). 0 leaves V8's own factor.
 */
import v8 from 'node:v8';

export function setHeapGrowingPercent(percent: number): void {
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}
