/** The feed replay against a broker that takes provisioned agents only (the embedded one). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayFeed } from '../../simulators/replay.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({});
}, 60_000);
afterAll(async () => {
  await ts?.close();
});

const now = Date.now();
const records = Array.from({ length: 5 }, (_, i) => ({ device: 'rp-m1', ts: now - 5_000 + i * 1000, v: { ua: 230 + i }, q: 'good' as const }));

describe('replay with agent credentials', () => {
  it("with the agent's user name and password its readings are stored", async () => {
    const { username, password } = await ts.mqttAgent('rp-auth', 'rp-site');
    const r = await replayFeed(records, { mqttUrl: ts.server.mqttUrl, speed: 100, site: 'rp-site', agent: 'rp-auth', username, password });
    expect(r.readings).toBe(5);
    await expect.poll(() => ts.server.ingest.watermark('rp-auth') ?? -1, { timeout: 10_000 }).toBeGreaterThanOrEqual(0);
  });

  it('without credentials the broker refuses the connection', async () => {
    await expect(replayFeed(records, { mqttUrl: ts.server.mqttUrl, speed: 100, site: 'rp-site', agent: 'rp-anon' })).rejects.toThrow(/Not authorized/i);
  });
});
