/** Recorded feeds: parsed from JSONL and CSV with bad lines reported, replayed at N× to a real broker and accepted by a real server. */
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { describe, expect, inject, it } from 'vitest';
import { parseReadingsPayload, readingsTopic, type Reading } from '../../contract/index.ts';
import { parseFeed, replayFeed } from '../../simulators/index.ts';
import { startTestServer } from '../support/server.ts';

const mqttUrl = inject('mqttUrl');
const uid = randomBytes(4).toString('hex');
const T = Date.UTC(2026, 0, 7, 4, 0, 0);

describe('feed parsing', () => {
  it('JSONL: readings and whole messages; bad lines skipped with their line number', () => {
    const text = [
      JSON.stringify({ site: 's1', agent: 'a1', device: 'm1', ts: T, v: { ua: 230.1, p: 12.5 }, q: 'good' }),
      '',
      JSON.stringify({ agent: 'a2', readings: [{ device: 'm9', ts: T + 1000, seq: 77, v: {}, q: 'comm_loss' }, { device: 'm9', ts: T + 2000, seq: 78, v: { watts: 1 }, q: 'good' }] }),
      '{not json',
      JSON.stringify({ device: 'm1', v: { ua: 230 } }),
      JSON.stringify({ device: 'm1', ts: T + 3000, v: { ia: -5 } }),
      JSON.stringify({ device: 'm1', ts: T + 4000, v: { f: 50 } }),
    ].join('\n');
    const { records, errors } = parseFeed(text, 'jsonl');
    expect(records).toEqual([
      { site: 's1', agent: 'a1', device: 'm1', ts: T, v: { ua: 230.1, p: 12.5 }, q: 'good' },
      { agent: 'a2', device: 'm9', ts: T + 1000, v: {}, q: 'comm_loss' },
      { device: 'm1', ts: T + 4000, v: { f: 50 }, q: 'good' },
    ]);
    expect(errors).toEqual([
      expect.stringMatching(/^line 3\.readings\[1\]: v\.watts "watts" is not a canonical quantity/),
      'line 4: not JSON',
      expect.stringMatching(/^line 5: ts ts is required/),
      expect.stringMatching(/^line 6: v\.ia .* outside plausible range/),
    ]);
  });

  it('CSV: a header names the columns, quantities by name, empty cells absent, ISO or epoch times', () => {
    const text = `ts,site,agent,device,q,ua,ia,"p",colour
${T},s1,a1,m1,good,230.4,10.5,2.2,red
2026-01-07T04:00:01.000Z,s1,a1,m1,,230.2,,2.1,
${T + 2000},s1,a1,m1,comm_loss,,,,
${T + 3000},s1,a1,m1,good,abc,1,1,
`;
    const { records, errors } = parseFeed(text, 'csv');
    expect(records).toEqual([
      { site: 's1', agent: 'a1', device: 'm1', ts: T, v: { ua: 230.4, ia: 10.5, p: 2.2 }, q: 'good' },
      { site: 's1', agent: 'a1', device: 'm1', ts: T + 1000, v: { ua: 230.2, p: 2.1 }, q: 'good' },
      { site: 's1', agent: 'a1', device: 'm1', ts: T + 2000, v: {}, q: 'comm_loss' },
    ]);
    expect(errors).toEqual(['line 1: column "colour" is not a canonical quantity; ignored', 'line 5: ua "abc" is not a number']);
    expect(parseFeed('device,ua\nm1,230', 'csv').errors).toEqual(['line 1: the header needs ts and device columns']);
  });
});

describe('replay', () => {
  it('20 s of a recorded feed at 20× in about a second: spacing kept, rebased to now, numbered, and stored by a real server', async () => {
    const site = `rp-${uid}`;
    const agents = [`rp-a-${uid}`, `rp-b-${uid}`];
    // 20 s, 1 Hz, 3 meters on two agents
    const records = [];
    for (let s = 0; s < 20; s++)
      for (const [i, device] of ['m1', 'm2', 'm3'].entries())
        records.push({ agent: agents[i % 2]!, device, ts: T + s * 1000 + i * 10, v: { ua: 230 + s / 10, p: 10 + i }, q: 'good' as const });

    const server = await startTestServer({ mqttUrl, sites: [site] });
    const sub = await mqtt.connectAsync(mqttUrl, { clientId: `rp-watch-${uid}`, reconnectPeriod: 0 });
    const got: Reading[] = [];
    sub.on('message', (topic, payload) => {
      const agent = topic.split('/')[3]!;
      const r = parseReadingsPayload(payload, agent);
      expect(r.ok && r.value.rejected).toEqual([]);
      if (r.ok) got.push(...r.value.readings.map((x) => ({ ...x, device: `${agent}/${x.device}` })));
    });
    await sub.subscribeAsync(agents.map((a) => readingsTopic(site, a)), { qos: 1 });
    try {
      const t0 = Date.now();
      const result = await replayFeed(records, { mqttUrl, speed: 20, site, batchMs: 20 });
      const took = Date.now() - t0;
      expect(result.readings).toBe(60);
      // 19.02 s of feed at 20×: just under a second (and surely not real time)
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(3000);
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toHaveLength(60);
      const m1 = got.filter((r) => r.device.endsWith('/m1')).map((r) => r.ts);
      expect(m1[0]! - t0).toBeLessThan(200); // rebased: the first reading is "now"
      for (let i = 1; i < m1.length; i++) expect(m1[i]! - m1[i - 1]!).toBe(1000); // recorded spacing kept
      for (const a of agents) {
        const seqs = got.filter((r) => r.device.startsWith(`${a}/`)).map((r) => r.seq);
        for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
        // the server took them all: its durable watermark reached each agent's last seq
        const wait = Date.now() + 5000;
        while ((server.server.ingest.watermark(a) ?? -1) < seqs.at(-1)! && Date.now() < wait) await new Promise((r) => setTimeout(r, 50));
        expect(server.server.ingest.watermark(a)).toBe(seqs.at(-1));
      }
    } finally {
      await sub.endAsync();
      await server.close();
    }
  });
});
