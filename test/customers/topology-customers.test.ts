/** Feeders and customers in the topology: validation by path, and the customer index. */
import { describe, expect, it } from 'vitest';
import { parseTopology, type Topology } from '../../contract/index.ts';
import { CustomerIndex, diffIndexes, diffIsEmpty } from '../../server/customers/index.ts';

function topo(): Record<string, unknown> {
  return {
    feeders: [{ id: 'F1', name: '10kV 东一线', substation: '东区站' }, { id: 'F2', name: '10kV 东二线' }],
    sites: [{
      id: 's1', name: 'S1',
      rooms: [{ id: 'r1', name: 'R1', transformers: [
        { id: 'T1', name: 'T1', ratedKva: 400, feeder: 'F1', meter: 'mT1', lines: [{ id: 'L1', name: 'L1', meter: 'mL1' }, { id: 'L2', name: 'L2' }] },
        { id: 'T2', name: 'T2', ratedKva: 400, feeder: 'F1' },
        { id: 'T3', name: 'T3', ratedKva: 400, feeder: 'F2' },
      ] }],
    }],
    customers: [
      { id: 'C1', name: '张三', site: 's1', transformer: 'T1', line: 'L1', meter: 'mC1', contacts: [{ name: '张三', phone: '138 0000 0001' }] },
      { id: 'C2', name: '人民医院', category: 'public', important: true, site: 's1', transformer: 'T1', line: 'L2', contacts: [{ name: '王', role: 'electrical', phone: '13800000002' }] },
      { id: 'C3', name: '李四', site: 's1', transformer: 'T2', contacts: [] },
      { id: 'C4', name: '赵五', site: 's1', transformer: 'T3', contacts: [{ name: '赵五' }] },
    ],
  };
}

function ok(doc: unknown): Topology {
  const r = parseTopology(doc);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.topology;
}

describe('topology feeders and customers', () => {
  it('accepts a valid topology and normalises phones', () => {
    const t = ok(topo());
    expect(t.customers?.[0]?.contacts[0]?.phone).toBe('13800000001');
    expect(t.customers?.[2]?.category).toBe('residential');
  });

  it('reports every reference error by path at once', () => {
    const d = topo() as { customers: Array<Record<string, unknown>>; sites: Array<{ rooms: Array<{ transformers: Array<Record<string, unknown>> }> }> };
    d.sites[0]!.rooms[0]!.transformers[2]!.feeder = 'F9';
    d.customers.push({ id: 'C1', name: 'dup', site: 's1', transformer: 'T1', contacts: [] });
    d.customers.push({ id: 'C5', name: 'x', site: 's1', transformer: 'T9', contacts: [] });
    d.customers.push({ id: 'C6', name: 'x', site: 's1', transformer: 'T2', line: 'L1', contacts: [] });
    d.customers.push({ id: 'C7', name: 'x', site: 's9', transformer: 'T1', contacts: [] });
    d.customers.push({ id: 'C8', name: 'x', site: 's1', transformer: 'T1', meter: 'mC1', contacts: [] });
    const r = parseTopology(d);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const msgs = r.errors.map((e) => `${e.path}: ${e.message}`);
    expect(msgs).toEqual(expect.arrayContaining([
      expect.stringMatching(/transformers\[2\]\(T3\)\.feeder: unknown feeder "F9"/),
      expect.stringMatching(/customers\[4\]\(C1\): duplicate customer id "C1" \(first at customers\[0\]\(C1\)\)/),
      expect.stringMatching(/customers\[5\]\(C5\)\.transformer: unknown transformer "T9"/),
      expect.stringMatching(/customers\[6\]\(C6\)\.line: line "L1" is under transformer "T1", not "T2"/),
      expect.stringMatching(/customers\[7\]\(C7\)\.site: unknown site "s9"/),
      expect.stringMatching(/customers\[8\]\(C8\)\.meter: meter "mC1" already belongs to customers\[0\]\(C1\)/),
    ]));
    expect(msgs).toHaveLength(6);
  });

  it('rejects a bad phone and an unknown category by path', () => {
    const d = topo() as { customers: Array<Record<string, unknown>> };
    d.customers[0]!.contacts = [{ name: 'x', phone: 'call me' }];
    d.customers[1]!.category = 'royal';
    const r = parseTopology(d);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['customers[0](C1).contacts[0].phone', 'customers[1](C2).category']));
  });

  it('answers who a feeder, transformer, line and meter supply', () => {
    const idx = new CustomerIndex(ok(topo()));
    expect(idx.customersUnder({ feeder: 'F1' }).map((c) => c.id)).toEqual(['C2', 'C1', 'C3']);
    expect(idx.customersUnder({ site: 's1', transformer: 'T1' }).map((c) => c.id)).toEqual(['C2', 'C1']);
    expect(idx.customersUnder({ site: 's1', line: 'L2' }).map((c) => c.id)).toEqual(['C2']);
    expect(idx.customersUnder({ meter: 'mC1' }).map((c) => c.id)).toEqual(['C1']);
    expect(idx.customersUnder({ meter: 'mT1' }).map((c) => c.id)).toEqual(['C2', 'C1']);
    expect(idx.customersUnder({ meter: 'mL1' }).map((c) => c.id)).toEqual(['C1']);
    expect(idx.customersUnder({ feeder: 'nope' })).toEqual([]);
    expect(idx.customerById('C3')?.reachable).toBe(false);
    expect(idx.customerById('C4')?.reachable).toBe(false);
    expect(idx.customerById('C1')?.feeder).toBe('F1');
    expect(idx.customerOfMeter('mC1')?.id).toBe('C1');
    expect(idx.customersOfSite('s1')).toHaveLength(4);
    expect(idx.transformersOfFeeder('F1')).toEqual([{ site: 's1', transformer: 'T1' }, { site: 's1', transformer: 'T2' }]);
  });

  it('diffs two indexes: customers added, removed, changed and transformers moved between feeders', () => {
    const a = new CustomerIndex(ok(topo()));
    expect(diffIsEmpty(diffIndexes(a, new CustomerIndex(ok(topo()))))).toBe(true);
    const d = topo() as { customers: Array<Record<string, unknown>>; sites: Array<{ rooms: Array<{ transformers: Array<Record<string, unknown>> }> }> };
    d.sites[0]!.rooms[0]!.transformers[1]!.feeder = 'F2';
    d.customers.splice(3, 1);
    d.customers.push({ id: 'C9', name: 'new', site: 's1', transformer: 'T3', contacts: [] });
    const b = new CustomerIndex(ok(d));
    const diff = diffIndexes(a, b);
    expect(diff.added).toEqual(['C9']);
    expect(diff.removed).toEqual(['C4']);
    expect(diff.changed).toEqual(['C3']);
    expect(diff.transformersMoved).toEqual([{ site: 's1', transformer: 'T2', from: 'F1', to: 'F2' }]);
  });
});
