/**
 * JSON shaped to be slow to parse is refused before it is parsed: 4 MB of
 * brackets, or one object of 250,000 keys, kept JSON.parse busy for seconds
 * on the thread that ingests and alarms.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS, jsonShape, parseReadingsPayload } from '../../contract/index.ts';

const nestingOver = (p: string | Buffer, max: number) => jsonShape(p, max, 1000) === 'too_deep';

describe('JSON shape', () => {
  it('counts brackets outside strings only, escapes included', () => {
    expect(nestingOver('[[[]]]', 3)).toBe(false);
    expect(nestingOver('[[[[]]]]', 3)).toBe(true);
    expect(nestingOver('{"a":"[[[[[[","b":{"c":[1]}}', 3)).toBe(false);
    expect(nestingOver('{"a":"\\\\"}', 0)).toBe(true);
    expect(nestingOver('{"a":"\\"[[[[["}', 1)).toBe(false);
    expect(nestingOver(Buffer.from('{"a":[{"b":[]}]}'), 4)).toBe(false);
  });

  it('rejects a large payload nested too deep (too_deep) or with too wide an object (too_many), quickly; a large flat one parses', () => {
    const d = 1_500_000;
    const deep = Buffer.from(`{"agent":"a","readings":[],"x":${'['.repeat(d)}${']'.repeat(d)}}`);
    expect(deep.length).toBeLessThan(LIMITS.maxMessageBytes);
    const t = performance.now();
    const r = parseReadingsPayload(deep, 'a');
    const ms = performance.now() - t;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.reason).toBe('too_deep');
    process.stderr.write(`[depth] ${(deep.length / 1e6).toFixed(1)} MB of brackets refused in ${ms.toFixed(1)} ms\n`);
    const readings = Array.from({ length: 2000 }, (_, i) => ({ device: `m${i}`, ts: 1_800_000_000_000, seq: i, v: { ua: 230, ia: 5 }, q: 'good' }));
    // one object of many keys
    const keys = Buffer.from(`{"agent":"a","readings":[],${Array.from({ length: 250_000 }, (_, i) => `"k${i}":1`).join(',')}}`);
    const t2 = performance.now();
    const wide = parseReadingsPayload(keys, 'a');
    process.stderr.write(`[depth] ${(keys.length / 1e6).toFixed(1)} MB object of 250,000 keys refused in ${(performance.now() - t2).toFixed(1)} ms\n`);
    expect(wide.ok ? null : wide.errors[0]!.reason).toBe('too_many');
    expect(jsonShape('{"a":1,"b":[1,2,3,4,5],"c":"x,y,z"}', 4, 3)).toBeNull();
    expect(jsonShape('{"a":1,"b":2,"c":3,"d":4}', 4, 3)).toBe('too_many');
    const flat = parseReadingsPayload(Buffer.from(JSON.stringify({ agent: 'a', readings })), 'a');
    expect(flat.ok && flat.value.readings.length).toBe(2000);
  });
});
