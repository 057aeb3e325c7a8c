/**
 * Every rule kind's descriptor has the same properties in the same order
 * (defineKind rebuilds it so): the dispatcher in engine.ts then loads `step`,
 * `tick`, `late`, … from objects of one shape on every reading and tick,
 * instead of a lookup across a shape per kind.
 */
import { describe, expect, it } from 'vitest';
import { KINDS } from '../../server/rules/index.ts';

describe('rule kind descriptors', () => {
  it('all have the same keys in the same order', () => {
    const shapes = new Map<string, string[]>();
    for (const [kind, d] of Object.entries(KINDS)) {
      const keys = Object.keys(d).join(',');
      shapes.set(keys, [...(shapes.get(keys) ?? []), kind]);
    }
    expect([...shapes.entries()], 'kinds by key list').toHaveLength(1);
  });

  it('optional members read as before: tickUnseen a boolean, absent hooks undefined', () => {
    expect(KINDS.stale.tickUnseen).toBe(true);
    expect(KINDS.threshold.tickUnseen).toBe(false);
    expect(KINDS.threshold.late).toBeUndefined();
    expect(typeof KINDS.stale.late).toBe('function');
  });
});
