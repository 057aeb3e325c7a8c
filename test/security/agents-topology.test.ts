/**
 * Agent provisioning over /api/agents takes an agent's site from the
 * topology: a room's `agent` and every id in a room's `agents` are known
 * agents; an agent named in several sites needs its site given, one of
 * those; a site the topology does not give the agent is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

const TOPOLOGY = `
sites:
  - id: agt-s1
    name: S1
    rooms:
      - { id: r1, name: R1, agent: agt-main, agents: [agt-extra, agt-both], sensors: [agt-d1] }
  - id: agt-s2
    name: S2
    rooms:
      - { id: r2, name: R2, agent: agt-main2, agents: [agt-both], sensors: [agt-d2] }
`;

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ topologyYaml: TOPOLOGY });
}, 60_000);
afterAll(async () => {
  await ts?.close();
});

const provision = (body: object) =>
  ts.fetch('/api/agents', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('POST /api/agents with room.agents', () => {
  it('a room\'s further agent gets its site from the topology', async () => {
    const r = await provision({ agent: 'agt-extra' });
    expect(r.status).toBe(201);
    expect((await r.json()).agent).toMatchObject({ agent: 'agt-extra', site: 'agt-s1' });
  });

  it('a further agent given another site than the topology\'s is refused', async () => {
    const r = await provision({ agent: 'agt-extra', site: 'agt-s2' });
    expect(r.status).toBe(400);
    const e = (await r.json()).error;
    expect(e.code).toBe('GW_ERR_AGENT_INVALID');
    expect(e.message).toContain('"agt-s1"');
  });

  it('an agent of rooms in two sites needs its site, and takes either of them', async () => {
    const bare = await provision({ agent: 'agt-both' });
    expect(bare.status).toBe(400);
    const e = (await bare.json()).error;
    expect(e.code).toBe('GW_ERR_AGENT_INVALID');
    expect(e.message).toMatch(/"agt-s1", "agt-s2".*give its site/);
    expect((await provision({ agent: 'agt-both', site: 'agt-s3' })).status).toBe(400);
    const ok = await provision({ agent: 'agt-both', site: 'agt-s2' });
    expect(ok.status).toBe(201);
    expect((await ok.json()).agent).toMatchObject({ agent: 'agt-both', site: 'agt-s2' });
  });

  it('a room\'s own agent as before', async () => {
    const r = await provision({ agent: 'agt-main2' });
    expect(r.status).toBe(201);
    expect((await r.json()).agent).toMatchObject({ site: 'agt-s2' });
    expect(ts.server.mqttCredentials.list().map((a) => a.agent).sort()).toEqual(['agt-both', 'agt-extra', 'agt-main2']);
  });
});
