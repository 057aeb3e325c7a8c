/** A small grid for the outage pool's pure tests: feeder F1 (T1, T2), T3 alone, customers with and without meters. */
import { parseTopology, type Topology } from '../../contract/index.ts';
import { Grid } from '../../server/outages/grid.ts';
import { DEFAULT_OUTAGE_OPTIONS, type MeterSupply, type OutageRecord } from '../../server/outages/types.ts';

export const TOPOLOGY_DOC = {
  feeders: [{ id: 'F1', name: '10kV 东一线' }],
  sites: [
    {
      id: 's1',
      name: 'S1',
      rooms: [
        {
          id: 'r1',
          name: 'R1',
          transformers: [
            { id: 'T1', name: '1号变', ratedKva: 400, feeder: 'F1', meter: 'mT1', lines: [{ id: 'L1', name: 'L1', meter: 'mL1' }, { id: 'L2', name: 'L2', meter: 'mL2' }] },
            { id: 'T2', name: '2号变', ratedKva: 400, feeder: 'F1', meter: 'mT2', lines: [{ id: 'L3', name: 'L3', meter: 'mL3' }] },
            { id: 'T3', name: '3号变', ratedKva: 400, meter: 'mT3', lines: [{ id: 'L4', name: 'L4', meter: 'mL4' }] },
          ],
        },
      ],
    },
  ],
  customers: [
    { id: 'C1', name: '张三', site: 's1', transformer: 'T1', line: 'L1', meter: 'mC1', contacts: [{ name: '张三', phone: '13800000001' }, { name: '张三妻', phone: '13800000011' }] },
    { id: 'C2', name: '人民医院', important: true, site: 's1', transformer: 'T1', line: 'L2', contacts: [{ name: '王', phone: '13800000002' }] },
    { id: 'C3', name: '李四', site: 's1', transformer: 'T2', line: 'L3', contacts: [{ name: '李四', phone: '13800000003' }] },
    { id: 'C4', name: '赵五', site: 's1', transformer: 'T3', line: 'L4', meter: 'mC4', contacts: [{ name: '赵五', phone: '13800000004' }] },
    { id: 'C5', name: '钱六', site: 's1', transformer: 'T3', contacts: [] },
  ],
};

export function topology(doc: unknown = TOPOLOGY_DOC): Topology {
  const r = parseTopology(doc);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.topology;
}

export function grid(doc: unknown = TOPOLOGY_DOC): Grid {
  return new Grid(topology(doc));
}

export const OPTS = DEFAULT_OUTAGE_OPTIONS;

export function live(v = 230, since = 0, at = 1000): MeterSupply {
  return { status: 'live', since, voltage: v, at };
}
export function dark(since = 0): MeterSupply {
  return { status: 'dark', since, voltage: 0, at: since };
}

export function rec(over: Partial<OutageRecord> & Pick<OutageRecord, 'id' | 'scope'>): OutageRecord {
  return { transformers: [], meters: [], cause: 'fault', start: 0, state: 'active', customers: [], important: 0, findings: [], tickets: [], alarmIds: [], ...over };
}
