/**
 * The heap growing factor (server/heap.ts) set at run time really sets the
 * limit V8 computes after a mark-compact, on the Node in use: V8 says so
 * with --trace-gc-verbose ("[HeapController] Limit: … (3.0)").
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadServerConfig } from '../../server/index.ts';

/** the factors of the limits V8 computed in a child process that sets `percent` (or not) and collects once */
function limitFactors(percent: number | null): number[] {
  const script = `${percent === null ? '' : `const { setHeapGrowingPercent } = await import('./server/heap.ts'); setHeapGrowingPercent(${percent});`}
    const keep = Array.from({ length: 200000 }, (_, i) => ({ i })); globalThis.gc(); console.log(keep.length);`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--trace-gc-verbose', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return [...out.matchAll(/\[HeapController\] Limit: .*\((\d+\.\d)\)/g)].map((m) => Number(m[1]));
}

describe('heap growing factor', () => {
  it('set at run time, V8 uses it for the next limit (200 % -> 3.0); 0 leaves V8 its own factor', () => {
    expect(limitFactors(200)).toEqual([3]);
    const own = limitFactors(0);
    expect(own).toHaveLength(1);
    expect(limitFactors(null)).toEqual(own);
  });

  it('defaults to 0 (V8 chooses); a negative or fractional value is refused with its path', () => {
    expect(loadServerConfig({}).heapGrowingPercent).toBe(0);
    expect(loadServerConfig({ heapGrowingPercent: 200 }).heapGrowingPercent).toBe(200);
    expect(() => loadServerConfig({ heapGrowingPercent: -1 })).toThrow(/heapGrowingPercent/);
    expect(() => loadServerConfig({ heapGrowingPercent: 1.5 })).toThrow(/heapGrowingPercent/);
  });
});
