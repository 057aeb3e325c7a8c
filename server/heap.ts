/**
 * Two V8 heap settings for a server that runs with a large young generation
 * (--max-semi-space-size=64: Dockerfile, npm start), both set at run time
 * because Node refuses them in NODE_OPTIONS; each applies to every decision
 * V8 makes afterwards (test/server/heap.test.ts checks that on the Node in
 * use).
 *
 * ## Heap growing factor
 *
 * How far V8 lets the old generation grow past what a mark-compact left
 * alive before it marks again.
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
 * fewer compactions the runs where ~5 MB per scavenge outlives it (in the
 * alarm bench) lasted longer, and the alarm p99 was no better (46.6 and
 * 37.9 ms against 41.9 and 31.4 with V8's own factor, same hour). So the
 * default leaves V8's factor; this is a knob to try on other heaps. 0 leaves
 * V8's own factor.
 *
 * ## When incremental marking starts
 *
 * The factor is not the cause of the frequent compactions, the start rule
 * is: V8 starts marking (from a task, "[IncrementalMarking] Start (task)")
 * once the room under the limit is less than the young generation's
 * capacity, which with a 64 MB semi-space is most of any limit — traced in
 * the alarm bench: a start right after each compaction at 41 of 112 MB,
 * a mark-compact every ~0.55 s. V8's `--incremental-marking-soft-trigger`
 * replaces that rule with a share of the limit: marking starts from a task
 * above `markingStartPercent` % of it, and at once (on allocation) above
 * the hard trigger, set halfway from there to 100 %. The default, 70, was
 * measured in the alarm bench (10 interleaved pairs): 0–3
 * mark-compacts per 8-s stage instead of 2–14, alarm p99 median 12.2 ms
 * instead of 16.3 (7.6–25.6 against 11.0–28.0). Each compaction's pause is
 * a little longer (mean 6–25 ms against 7–15), there are far fewer. 0
 * leaves V8's own rule.
 */
import v8 from 'node:v8';

/** Process-wide; 0 gives V8 back its own factor (the flag's default) */
export function setHeapGrowingPercent(percent: number): void {
  v8.setFlagsFromString(`--heap-growing-percent=${Math.max(0, Math.round(percent))}`);
}

/**
 * `percent` > 0: start incremental marking above that share of the old
 * generation's limit (soft trigger), at once above halfway from there to 100
 * (hard trigger). Process-wide; 0 gives V8 back its own rule (both flags' default).
 */
export function setMarkingStartPercent(percent: number): void {
  const soft = Math.max(0, Math.round(percent));
  const hard = soft > 0 ? Math.round(soft + (100 - soft) / 2) : 0;
  v8.setFlagsFromString(`--incremental-marking-soft-trigger=${soft}`);
  v8.setFlagsFromString(`--incremental-marking-hard-trigger=${hard}`);
}
