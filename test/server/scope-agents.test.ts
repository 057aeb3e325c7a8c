/**
 * Station scopes and a room's further agents (`room.agents`): an agent is
 * visible to users of every site whose rooms name it, by `agent` or in
 * `agents`, and to no other; its alarms belong to its first site.
 */
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../contract/index.ts';
import { StationIndex } from '../../server/scope.ts';

const DOC = {
  sites: [
    { id: 's1', name: 'S1', rooms: [{ id: 'r1', name: 'R1', agent: 'a1', agents: ['importer', 'shared'], sensors: ['d1'] }] },
    { id: 's2', name: 'S2', rooms: [{ id: 'r2', name: 'R2', agent: 'a2', agents: ['shared'], sensors: ['d2'] }] },
  ],
};

function index(): StationIndex {
  const t = parseTopology(DOC);
  if (!t.ok) throw new Error(JSON.stringify(t.errors));
  return new StationIndex(t.topology);
}

describe('StationIndex with room.agents', () => {
  it('a further agent of one site is visible to that site\'s users only', () => {
    const ix = index();
    expect(ix.agentVisible(new Set(['s1']), 'importer')).toBe(true);
    expect(ix.agentVisible(new Set(['s2']), 'importer')).toBe(false);
    expect(ix.siteOfSource('importer')).toBe('s1');
  });

  it('an agent named in rooms of two sites is visible to users of either', () => {
    const ix = index();
    expect(ix.agentVisible(new Set(['s1']), 'shared')).toBe(true);
    expect(ix.agentVisible(new Set(['s2']), 'shared')).toBe(true);
    expect(ix.agentVisible(new Set(['s3']), 'shared')).toBe(false);
    expect(ix.siteOfSource('shared')).toBe('s1');
  });

  it('room agents as before; unknown agents for unscoped users only', () => {
    const ix = index();
    expect(ix.agentVisible(new Set(['s2']), 'a2')).toBe(true);
    expect(ix.agentVisible(new Set(['s2']), 'a1')).toBe(false);
    expect(ix.agentVisible(new Set(['s1']), 'nobody')).toBe(false);
    expect(ix.agentVisible(null, 'nobody')).toBe(true);
  });
});
