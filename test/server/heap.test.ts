/**
 * The heap settings (server/heap.ts) set at run time really reach V8's
 * decisions on the Node in use: the growing factor sets the limit V8
 * computes after a mark-compact (--trace-gc-verbose: "[HeapController]
 * Limit: … (3.0)"), and the marking start share decides when incremental
 * marking starts (--trace-incremental-marking: "Start (…): (size/limit/slack)
 * v8: 18MB / 156MB").
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadServerConfig } from '../../server/index.ts';

/** What a child process with `flags` prints when it calls server/heap.ts's `setter` with each of `percents` in turn (none: never) and then runs `body`. */
function child(flags: string[], setter: 'setHeapGrowingPercent' | 'setMarkingStartPercent', percents: number[], body: string): string {
  const set = percents.length === 0 ? '' : `const { ${setter} } = await import('./server/heap.ts'); ${percents.map((p) => `${setter}(${p});`).join(' ')}`;
  return execFileSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', `${set}\n${body}`], { encoding: 'utf8' });
}

/** the factors of the limits V8 computed in a child process that sets the growing factor (each of `percents` in turn; none: not at all) and collects once */
function limitFactors(...percents: number[]): number[] {
  const out = child(['--expose-gc', '--trace-gc-verbose'], 'setHeapGrowingPercent', percents, `const keep = Array.from({ length: 200000 }, (_, i) => ({ i })); globalThis.gc(); console.log(keep.length);`);
  return [...out.matchAll(/\[HeapController\] Limit: .*\((\d+\.\d)\)/g)].map((m) => Number(m[1]));
}

/**
 * The old generation's size / limit at each start of incremental marking in
 * a child process that sets the marking start share (each of `percents` in
 * turn; none: not at all) and then keeps ~40 MB alive while replacing some
 * of it and churning short-lived objects. Node's default young generation
 * (16 MB semi-spaces), so that V8's own rule (start when the room under the
 * limit is less than the young generation's capacity) cannot start it early.
 */
function markingStarts(...percents: number[]): number[] {
  const out = child(['--trace-incremental-marking'], 'setMarkingStartPercent', percents, `
    const keep = Array.from({ length: 400000 }, (_, j) => ({ j, s: 'x' + j }));
    const ring = new Array(50000);
    for (let i = 0; i < 1e7; i++) {
      ring[i % ring.length] = { a: i, b: 'k' + (i & 1023), c: [i] };
      if (i % 50 === 0) keep[(i / 50) % keep.length] = { j: i, s: 'y' + i };
    }
    console.log(keep.length + ring.length);`);
  expect(out).toContain('450000');
  // only the starts the allocation rules make: a timer-driven one (memory reducer, idle task) can come at any
  // size on a loaded machine, whatever the setting
  return [...out.matchAll(/\[IncrementalMarking\] Start \((?:global )?allocation limit\): \(size\/limit\/slack\) v8: (\d+)MB \/ (\d+)MB/g)].map((m) => Number(m[1]) / Number(m[2]));
}

describe('incremental marking start', () => {
  it('set at run time, V8 starts marking at that share of the limit; 0 leaves V8 its own rule (which here waits until the limit is near)', () => {
    // unset, 0, and 0 after another value (the flags are process-wide)
    for (const own of [markingStarts(), markingStarts(0), markingStarts(5, 0)]) {
      expect(own.length).toBeGreaterThan(0);
      expect(Math.min(...own)).toBeGreaterThan(0.85);
    }
    // 5 %: soft trigger 5, hard 53. The soft one starts marking from a task, which this child's
    // synchronous loop never lets run; the hard one starts it on allocation, checked at allocation
    // steps, so a little over 53 %
    const early = markingStarts(5);
    expect(early.length).toBeGreaterThan(0);
    expect(Math.min(...early)).toBeLessThan(0.75);
  });

  it('defaults to 70 (0: V8 chooses); out of 0–99 or fractional is refused with its path', () => {
    expect(loadServerConfig({}).markingStartPercent).toBe(70);
    expect(loadServerConfig({ markingStartPercent: 0 }).markingStartPercent).toBe(0);
    for (const bad of [-1, 100, 7.5]) expect(() => loadServerConfig({ markingStartPercent: bad })).toThrow(/markingStartPercent/);
  });
});

describe('heap growing factor', () => {
  it('set at run time, V8 uses it for the next limit (200 % -> 3.0); 0 leaves V8 its own factor', () => {
    expect(limitFactors(200)).toEqual([3]);
    const own = limitFactors(0);
    expect(own).toHaveLength(1);
    expect(limitFactors()).toEqual(own);
    // the flag is process-wide: 0 after 200 gives V8 its factor back
    expect(limitFactors(200, 0)).toEqual(own);
  });

  it('defaults to 0 (V8 chooses); a negative or fractional value is refused with its path', () => {
    expect(loadServerConfig({}).heapGrowingPercent).toBe(0);
    expect(loadServerConfig({ heapGrowingPercent: 200 }).heapGrowingPercent).toBe(200);
    expect(() => loadServerConfig({ heapGrowingPercent: -1 })).toThrow(/heapGrowingPercent/);
    expect(() => loadServerConfig({ heapGrowingPercent: 1.5 })).toThrow(/heapGrowingPercent/);
  });
});
