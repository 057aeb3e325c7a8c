/**
 * Refusals and faults logged rate-limited: the first of a quiet period with
 * its details, the rest of the interval as one line with their count. Once
 * on its own, and in a real server whose readings listener throws on every
 * message.
 */
import mqtt from 'mqtt';
import { describe, expect, inject, it } from 'vitest';
import { readingsTopic } from '../../contract/index.ts';
import { RejectLog } from '../../server/reject-log.ts';
import { memoryLog } from '../support/logger.ts';
import { startTestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';

describe('RejectLog', () => {
  it('writes the first of each kind at once and one summary line per interval with the count of the rest', async () => {
    const { log, lines } = memoryLog('warn');
    const rl = new RejectLog(log, 200);
    for (let i = 0; i < 1000; i++) {
      rl.warn('invalid_json', 'input rejected', () => ({ i }));
      rl.error('handler_failed', 'ingest handler failed', () => ({ i }));
    }
    expect(lines.map((l) => [l.level, l.reason, l.i])).toEqual([
      [40, 'invalid_json', 0],
      [50, 'handler_failed', 0],
    ]);
    await eventually(() => lines.length === 4, 5000, 'the summaries');
    expect(lines.slice(2).map((l) => [l.level, l.reason, l.suppressed]).sort()).toEqual([
      [40, 'invalid_json', 999],
      [50, 'handler_failed', 999],
    ]);
    // a quiet interval: nothing more; the next one is written at once again
    await new Promise((r) => setTimeout(r, 500));
    expect(lines).toHaveLength(4);
    rl.warn('invalid_json', 'input rejected', () => ({ i: 'again' }));
    expect(lines.at(-1)).toMatchObject({ reason: 'invalid_json', i: 'again' });
    // at stop, what is counted and not written is written
    rl.warn('invalid_json', 'input rejected', () => ({}));
    rl.flush();
    expect(lines.at(-1)).toMatchObject({ reason: 'invalid_json', suppressed: 1 });
  });
});

describe('a readings listener that throws on every message', () => {
  it('is logged once per interval, and the readings are still stored', async () => {
    const { log, lines } = memoryLog('warn');
    const site = `rl-${process.pid}`;
    const agent = `rl-agent-${process.pid}`;
    const ts = await startTestServer({
      mqttUrl: inject('mqttUrl'),
      log,
      topologyYaml: `
sites:
  - id: ${site}
    name: RL
    rooms:
      - { id: r1, name: R1, agent: ${agent}, sensors: [rl-s1] }
`,
    });
    const pub = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `rl-pub-${process.pid}` });
    try {
      ts.server.ingest.onReadings(() => {
        throw new Error('listener bug');
      });
      const t0 = Date.now();
      for (let i = 0; i < 50; i++)
        await pub.publishAsync(readingsTopic(site, agent), JSON.stringify({ agent, readings: [{ device: 'rl-s1', ts: t0 + i, seq: i, v: { temp: 20 }, q: 'good' }] }), { qos: 1 });
      await eventually(async () => (await ts.server.store.latest(['rl-s1']))[0]?.ts === t0 + 49, 10_000, 'all stored');
      expect(lines.filter((l) => l.msg === 'ingest listener failed')).toHaveLength(1);
    } finally {
      await pub.endAsync();
      await ts.close();
    }
  });
});
