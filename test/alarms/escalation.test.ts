/**
 * Escalation against a real local HTTP receiver: an alarm left
 * unacknowledged longer than its severity allows is POSTed once, retried
 * while the receiver fails, journaled (with the target's key redacted) and
 * pushed; an acknowledged alarm is not escalated; a receiver that keeps
 * failing is journaled as not delivered.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { alarmClient, Feed, hotRule, oneRoomTopology, startAlarmServer, testRules, type AlarmTestServer } from './helpers.ts';
import { eventually } from '../support/ws-client.ts';

const SITE = 'al-esc';
const TOPOLOGY = oneRoomTopology({ site: SITE, name: 'Escalation', meters: ['esc-m1', 'esc-m2', 'esc-m3'] });
const RULES = testRules(hotRule());

interface Received {
  at: number;
  url: string;
  body: any;
}
const received: Received[] = [];
let receiver: http.Server;
let ts: AlarmTestServer;
let feed: Feed;
let attemptsOfM1 = 0;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data);
      received.push({ at: Date.now(), url: req.url ?? '', body });
      // esc-m1: the gateway is busy once, then takes it; esc-m2: the gateway keeps failing
      const id: string = body.alarm.alarmId;
      const fail = id === 'hot:esc-m2' || (id === 'hot:esc-m1' && attemptsOfM1++ === 0);
      res.writeHead(fail ? 503 : 200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;
  ts = await startAlarmServer({
    mqttUrl: inject('mqttUrl'),
    topologyYaml: TOPOLOGY,
    rulesYaml: RULES,
    alarms: { escalation: { webhookUrl: `http://127.0.0.1:${port}/sms?key=s3cret`, afterS: { high: 1, critical: 1, medium: 0 }, attempts: 3, retryDelayMs: 200, timeoutMs: 2000 } },
  });
  feed = await Feed.open(inject('mqttUrl'), SITE, 'al-esc-agent');
});
afterAll(async () => {
  await feed?.close();
  await ts?.close();
  await new Promise((r) => receiver?.close(r));
});

describe('escalation', () => {
  it('posts an alarm unacknowledged past its limit to the webhook, retries, journals and pushes it once; an acknowledged one is not sent', async () => {
    const ws = await alarmClient(ts);
    const t0 = Date.now();
    await feed.publish([
      { device: 'esc-m1', ts: t0, v: { temp: 90 } },
      { device: 'esc-m3', ts: t0, v: { temp: 91 } },
    ]);
    await eventually(() => ws.frames.filter((f) => f.type === 'alarm').length === 2);
    const ack = await ts.fetch('/api/alarms/hot%3Aesc-m3/acknowledge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"comment":"seen"}', role: 'operator' });
    expect(ack.status).toBe(200);

    const frame = await ws.next((f) => f.type === 'alarm_escalation', 8000);
    expect(frame.escalation).toMatchObject({
      kind: 'escalation',
      alarmId: 'hot:esc-m1',
      severity: 2,
      delivered: true,
      attempts: 2,
      status: 200,
      target: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/sms`,
    });
    const toM1 = received.filter((r) => r.body.alarm.alarmId === 'hot:esc-m1');
    expect(toM1).toHaveLength(2);
    expect(toM1[0]!.url).toBe('/sms?key=s3cret');
    expect(toM1[0]!.at - t0).toBeGreaterThanOrEqual(1000);
    expect(toM1[1]!.at - toM1[0]!.at).toBeGreaterThanOrEqual(200);
    expect(toM1[1]!.body).toMatchObject({ type: 'alarm_escalation', limitS: 1, alarm: { alarmId: 'hot:esc-m1', state: 'unack_active', severityName: 'high', site: SITE, line: 'l1' } });

    // once per annunciation; the acknowledged alarm never
    await new Promise((r) => setTimeout(r, 1500));
    expect(received.filter((r) => r.body.alarm.alarmId === 'hot:esc-m1')).toHaveLength(2);
    expect(received.filter((r) => r.body.alarm.alarmId === 'hot:esc-m3')).toEqual([]);
    const { alarm } = await (await ts.fetch('/api/alarms/hot%3Aesc-m1', { role: 'viewer' })).json();
    expect(alarm.escalatedAt).toBe(frame.escalation.at);
    const { events } = await (await ts.fetch('/api/alarms/hot%3Aesc-m1/history', { role: 'viewer' })).json();
    expect(events.map((e: any) => `${e.kind} ${e.reason ?? ''}`.trim())).toEqual(['transition raise', 'escalation']);
    expect(JSON.stringify(events)).not.toContain('s3cret');
    await ws.close();
  });

  it('a receiver that keeps failing: retried, then journaled as not delivered', async () => {
    const ws = await alarmClient(ts);
    await feed.publish([{ device: 'esc-m2', ts: Date.now(), v: { temp: 99 } }]);
    const frame = await ws.next((f) => f.type === 'alarm_escalation' && f.escalation.alarmId === 'hot:esc-m2', 8000);
    expect(frame.escalation).toMatchObject({ delivered: false, attempts: 3, status: 503, error: 'HTTP 503' });
    expect(received.filter((r) => r.body.alarm.alarmId === 'hot:esc-m2')).toHaveLength(3);
    const events = await (await ts.fetch('/api/alarm-events?kind=escalation', { role: 'viewer' })).json();
    expect(events.events.map((e: any) => [e.alarmId, e.delivered])).toEqual([
      ['hot:esc-m1', true],
      ['hot:esc-m2', false],
    ]);
    await ws.close();
  });
});
