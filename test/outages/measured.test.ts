/** Measured outages from the correlation's dark conditions: feeder level, merging, restoration, nesting (pure). */
import { describe, expect, it } from 'vitest';
import { customerHours, deriveOutages, type DarkCondition } from '../../server/outages/measured.ts';
import type { OutageRecord } from '../../server/outages/types.ts';
import { grid, rec } from './fixture.ts';

const g = grid();
const tDark = (t: string, since: number, meters: string[]): DarkCondition => ({ alarmId: `outage:s1/${t}`, scope: 'transformer', site: 's1', transformer: t, meters, source: `s1/${t}`, since });
const mDark = (m: string, since: number): DarkCondition => ({ alarmId: `outage:${m}`, scope: 'meter', site: 's1', transformer: '', meters: [m], source: m, since });
/** new ids continue after the records given */
function ids(records: readonly OutageRecord[]) {
  let n = records.length;
  return () => `O${++n}`;
}

describe('deriveOutages', () => {
  const cases: { name: string; records: OutageRecord[]; conds: DarkCondition[]; opened: Partial<OutageRecord>[]; changed: Partial<OutageRecord>[] }[] = [
    {
      name: 'one transformer of a feeder dark → a transformer outage with its customers, important first',
      records: [],
      conds: [tDark('T1', 100, ['mT1', 'mL1', 'mL2'])],
      opened: [{ id: 'O1', scope: { kind: 'transformer', site: 's1', transformer: 'T1', feeder: 'F1' }, customers: ['C2', 'C1'], important: 1, start: 100, transformers: ['s1/T1'] }],
      changed: [],
    },
    {
      name: 'every transformer of the feeder dark → ONE feeder outage',
      records: [],
      conds: [tDark('T1', 100, ['mT1']), tDark('T2', 105, ['mT2'])],
      opened: [{ id: 'O1', scope: { kind: 'feeder', site: 's1', feeder: 'F1' }, customers: ['C2', 'C1', 'C3'], start: 100, transformers: ['s1/T1', 's1/T2'] }],
      changed: [],
    },
    {
      name: 'the second transformer of the feeder goes dark → the open transformer outage merges into the feeder outage, which starts with it',
      records: [rec({ id: 'O1', scope: { kind: 'transformer', site: 's1', transformer: 'T1', feeder: 'F1' }, transformers: ['s1/T1'], start: 90 })],
      conds: [tDark('T1', 100, ['mT1']), tDark('T2', 105, ['mT2'])],
      opened: [{ id: 'O2', scope: { kind: 'feeder', site: 's1', feeder: 'F1' }, start: 90 }],
      changed: [{ id: 'O1', state: 'merged', mergedInto: 'O2', end: 1000 }],
    },
    {
      name: 'a feeder outage stays open while one of its transformers is dark',
      records: [rec({ id: 'O2', scope: { kind: 'feeder', site: 's1', feeder: 'F1' }, transformers: ['s1/T1', 's1/T2'], meters: ['mT1', 'mT2'], alarmIds: ['outage:s1/T1', 'outage:s1/T2'], start: 90 })],
      conds: [tDark('T2', 105, ['mT2'])],
      opened: [],
      changed: [],
    },
    {
      name: 'nothing dark → restored',
      records: [rec({ id: 'O2', scope: { kind: 'feeder', site: 's1', feeder: 'F1' }, transformers: ['s1/T1', 's1/T2'], start: 90 })],
      conds: [],
      opened: [],
      changed: [{ id: 'O2', state: 'restored', end: 1000 }],
    },
    {
      name: 'a line meter dark beside live ones → a line outage',
      records: [],
      conds: [mDark('mL4', 200)],
      opened: [{ id: 'O1', scope: { kind: 'line', site: 's1', transformer: 'T3', line: 'L4', meter: 'mL4' }, customers: ['C4'] }],
      changed: [],
    },
    {
      name: 'a line left dark as its transformer comes back → a line outage nested in the transformer outage',
      records: [rec({ id: 'O1', scope: { kind: 'transformer', site: 's1', transformer: 'T3' }, transformers: ['s1/T3'], start: 90 })],
      conds: [mDark('mL4', 100)],
      opened: [{ id: 'O2', scope: { kind: 'line', site: 's1', transformer: 'T3', line: 'L4', meter: 'mL4' }, nested: 'O1' }],
      changed: [{ id: 'O1', state: 'restored', end: 1000 }],
    },
    {
      name: "a customer's own meter dark → a meter outage of that customer",
      records: [],
      conds: [mDark('mC4', 300)],
      opened: [{ id: 'O1', scope: { kind: 'meter', site: 's1', transformer: 'T3', meter: 'mC4' }, customers: ['C4'] }],
      changed: [],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const r = deriveOutages(c.records, c.conds, g, 1000, 120_000, ids(c.records));
      expect(r.opened.length).toBe(c.opened.length);
      c.opened.forEach((o, i) => expect(r.opened[i]).toMatchObject({ ...o, id: expect.any(String) }));
      expect(r.changed).toHaveLength(c.changed.length);
      c.changed.forEach((o, i) => expect(r.changed[i]).toMatchObject(o));
    });

  it('customer-hours: customers × hours dark, so far while active', () => {
    expect(customerHours({ customers: ['a', 'b', 'c'], start: 0, end: 7_200_000 }, 0)).toBe(6);
    expect(customerHours({ customers: ['a', 'b'], start: 0 }, 1_800_000)).toBe(1);
  });
});
