/**
 * Deeply nested JSON is refused before it is parsed: 4 MB of brackets kept
 * JSON.parse busy for seconds on the thread that ingests and alarms.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS, nestingOver, parseReadingsPayload } from '../../contract/index.ts';

describe('nesting depth', () => {
  it('counts brackets outside strings only, escapes included', () => {
    expect(nestingOver('[[[]]]', 3)).toBe(false);
    expect(nestingOver('[[[[]]]]', 3)).toBe(true);
    expect(nestingOver('{"a":"[[[[[[","b":{"c":[1]}}', 3)).toBe(false);
    expect(nestingOver('{"a":"\\\\"}', 0)).toBe(true);
    expect(nestingOver('{"a":"\\"[[[[["}', 1)).toBe(false);
    expect(nestingOver(Buffer.from('{"a":[{"b":[]}]}'), 4)).toBe(false);
  });

  it('rejects a large payload nested deeper than the limit as too_deep, quickly; a large flat one parses', () => {
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
    const flat = parseReadingsPayload(Buffer.from(JSON.stringify({ agent: 'a', readings })), 'a');
    expect(flat.ok && flat.value.readings.length).toBe(2000);
  });
});
