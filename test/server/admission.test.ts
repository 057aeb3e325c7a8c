/**
 * The admission decisions one by one (server/ingest-admission.ts): who may
 * send which device on which site's topic, the bounds on invented ids, the
 * time window, and the metric label of an agent.
 */
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../contract/index.ts';
import { Admission, type AdmissionOptions } from '../../server/ingest-admission.ts';

const TOPOLOGY = {
  sites: [
    {
      id: 's1',
      name: 'S1',
      rooms: [
        { id: 'r1', name: 'R1', agent: 'a1', sensors: ['d1'] },
        { id: 'r2', name: 'R2', agent: 'a2', agents: ['importer'], sensors: ['d2'] },
        { id: 'r3', name: 'Open', sensors: ['d3'] },
      ],
    },
    { id: 's2', name: 'S2', rooms: [{ id: 'r4', name: 'R4', agent: 'a4', sensors: ['d4'] }] },
  ],
};
const OPTS: AdmissionOptions = { unknownDevices: 'reject', maxUnknownDevices: 2, maxUnknownAgents: 2, maxFutureMs: 60_000, maxPastMs: 3_600_000 };

function admission(opts: Partial<AdmissionOptions> = {}, doc: unknown = TOPOLOGY): Admission {
  const t = parseTopology(doc);
  if (!t.ok) throw new Error(JSON.stringify(t.errors));
  return new Admission({ ...OPTS, ...opts }, t.topology, t.devices);
}

describe('admission', () => {
  it('binds an agent named by a room to its site and its rooms', () => {
    const a = admission();
    expect(a.message('s1', 'a1')).toBeNull();
    expect(a.message('s2', 'a1')).toBe('site_mismatch');
    expect(a.device('d1', 's1', 'a1', 'a1.spool')).toBe('rules');
    expect(a.device('a1.spool', 's1', 'a1', 'a1.spool')).toBe('rules');
    expect(a.device('d2', 's1', 'a1', 'a1.spool')).toBe('not_bound');
    expect(a.device('d4', 's1', 'a1', 'a1.spool')).toBe('not_bound');
    expect(a.device('a2.spool', 's1', 'a1', 'a1.spool')).toBe('not_bound');
    expect(a.device('stray', 's1', 'a1', 'a1.spool')).toBe('unknown_device');
    // an open room of its site
    expect(a.device('d3', 's1', 'a1', 'a1.spool')).toBe('rules');
    // a room's further agents
    expect(a.message('s1', 'importer')).toBeNull();
    expect(a.device('d2', 's1', 'importer', 'importer.spool')).toBe('rules');
    expect(a.device('d1', 's1', 'importer', 'importer.spool')).toBe('not_bound');
  });

  it('takes an agent the topology does not name only on a site with an open room, at most maxUnknownAgents', () => {
    const a = admission();
    expect(a.message('nowhere', 'x1')).toBe('unknown_site');
    expect(a.message('s2', 'x1')).toBe('unknown_agent');
    expect(a.message('s1', 'x1')).toBeNull();
    expect(a.device('d3', 's1', 'x1', 'x1.spool')).toBe('rules');
    expect(a.device('d1', 's1', 'x1', 'x1.spool')).toBe('not_bound');
    expect(a.message('s1', 'x2')).toBeNull();
    expect(a.message('s1', 'x3')).toBe('too_many_agents');
    expect(a.message('s1', 'x1')).toBeNull();
    expect(a.agentState('a4')).toBeNull();
    expect(a.agentState('x2')).toBeNull();
    expect(a.agentState('x9')).toBe('too_many_agents');
    expect(a.agentState('bad/id')).toBe('unknown_agent');
    expect(a.agentLabel('a1')).toBe('a1');
    expect(a.agentLabel('importer')).toBe('importer');
    expect(a.agentLabel('x1')).toBe('');
    expect(a.call('s2')).toBeNull();
    expect(a.call('nowhere')).toBe('unknown_site');
  });

  it('accept: unknown devices stored but not ruled, up to maxUnknownDevices; unknown agents taken on any known site', () => {
    const a = admission({ unknownDevices: 'accept' });
    expect(a.device('u1', 's1', 'a1', 'a1.spool')).toBe('store_only');
    expect(a.device('u2', 's1', 'a1', 'a1.spool')).toBe('store_only');
    expect(a.device('u3', 's1', 'a1', 'a1.spool')).toBe('too_many_devices');
    expect(a.device('u1', 's1', 'a1', 'a1.spool')).toBe('store_only');
    expect(a.unknownDeviceCount).toBe(2);
    expect(a.message('s2', 'x1')).toBeNull();
  });

  it('bare start: every device ruled up to the bound, agents and call sites bounded', () => {
    const a = admission({}, { sites: [] });
    expect(a.bare).toBe(true);
    expect(a.message('any', 'x1')).toBeNull();
    expect(a.message('other', 'x2')).toBeNull();
    expect(a.message('any', 'x3')).toBe('too_many_agents');
    expect(a.device('m1', 'any', 'x1', 'x1.spool')).toBe('rules');
    expect(a.device('m2', 'any', 'x1', 'x1.spool')).toBe('rules');
    expect(a.device('m3', 'any', 'x1', 'x1.spool')).toBe('too_many_devices');
    expect(a.device('x1.spool', 'any', 'x1', 'x1.spool')).toBe('rules');
    expect(a.call('c1')).toBeNull();
    expect(a.call('c2')).toBeNull();
    expect(a.call('c3')).toBe('too_many_sites');
    expect(a.agentLabel('x1')).toBe('');
  });

  it('bounds the stamp: maxFutureMs ahead, maxPastMs back', () => {
    const a = admission();
    const now = 1_800_000_000_000;
    expect(a.time(now + 60_000, now)).toBeNull();
    expect(a.time(now + 60_001, now)).toBe('future_ts');
    expect(a.time(now - 3_600_000, now)).toBeNull();
    expect(a.time(now - 3_600_001, now)).toBe('too_old');
  });
});
