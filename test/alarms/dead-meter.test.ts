/**
 * Dead meter and lost agent with the real parts: a DTSU666 Modbus TCP
 * simulator, the real edge agent polling it, the shared Mosquitto, a real
 * server. A meter that stops answering raises comm-loss (never a zero), and
 * clears when it answers again; an agent that goes offline (its presence
 * message on the broker) raises ONE comm-loss alarm on the agent while every
 * alarm of its room's meters is suppressed by design.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAgent, loadAgentConfig, type Agent } from '../../edge-agent/index.ts';
import { createMeterModel, startModbusSimulator, type ModbusSimulator } from '../../simulators/index.ts';
import { eventually, type RecordingClient } from '../support/ws-client.ts';
import { alarmClient, brief, oneRoomTopology, startAlarmServer, transitions, type AlarmTestServer } from './helpers.ts';

const SITE = 'al-dead';
const AGENT = `al-dead-agent-${process.pid}`;
const TOPOLOGY = oneRoomTopology({ site: SITE, name: 'Dead meter', agent: AGENT, meters: ['dead-m1', 'dead-m2'] });
const RULES = `
version: 1
useDefaults: true
rules:
  - id: comm-loss
    afterS: 3                # no good reading for 3 s (agent polls every 200 ms)
  - id: i-high
    kind: threshold
    quantity: [ia, ib, ic]
    levels: { hi: { value: 170, severity: high } }
`;
const STEADY = { ua: 230, ub: 230, uc: 230, ia: 50, ib: 50, ic: 50, f: 50 };

let sim: ModbusSimulator;
let ts: AlarmTestServer;
let ws: RecordingClient;
let agent: Agent | null = null;
const sources = new Set(['dead-m1', 'dead-m2', AGENT]);

function startAgent(): Promise<void> {
  const device = (id: string, unitId: number) => ({
    id,
    profile: 'dtsu666',
    transport: { kind: 'tcp' as const, host: '127.0.0.1', port: sim.port },
    unitId,
    intervalMs: 200,
    timeoutMs: 150,
    backoffMaxMs: 400,
  });
  agent = createAgent(
    loadAgentConfig({ agent: AGENT, site: SITE, mqtt: { url: inject('mqttUrl') }, publishIntervalMs: 100, devices: [device('dead-m1', 1), device('dead-m2', 2)] }),
    { log: pino({ level: 'silent' }) },
  );
  return agent.start();
}

beforeAll(async () => {
  sim = await startModbusSimulator({
    port: 0,
    units: [
      { unitId: 1, model: createMeterModel({ profile: 'feeder', seed: 21 }) },
      { unitId: 2, model: createMeterModel({ profile: 'feeder', seed: 22 }) },
    ],
  });
  // steady values inside every default limit; meter 1 over the 170 A test limit
  sim.setOverride(1, { ...STEADY, ia: 180, ib: 180, ic: 180 });
  sim.setOverride(2, STEADY);
  // the agent first: readings are flowing when the server starts, so no meter is 'never seen'
  await startAgent();
  ts = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, rulesYaml: RULES });
  await eventually(async () => (await (await ts.fetch('/api/alarms?state=unack_active', { role: 'viewer' })).json()).total === 1, 10_000, 'the over-current alarm');
  ws = await alarmClient(ts);
});
afterAll(async () => {
  await agent?.stop();
  await ws?.close();
  await ts?.close();
  await sim?.stop();
});

describe('dead meter and lost agent (simulator + real edge agent)', () => {
  it('a meter that stops answering raises comm-loss once, and clears when it answers again', async () => {
    await new Promise((r) => setTimeout(r, 500));
    expect(brief(ws.frames, sources)).toEqual([]);
    const { alarms } = await (await ts.fetch('/api/alarms', { role: 'viewer' })).json();
    expect(alarms.map((a: any) => `${a.alarmId} ${a.state}`)).toEqual(['i-high:dead-m1 unack_active']);
    sim.setDead(2, true);
    await transitions(ws, sources, 1, 10_000, 500);
    // the dead meter's live value is not a zero: its last good values, marked comm_loss, with when they were good
    const m2 = (await (await ts.fetch('/api/latest?device=dead-m2', { role: 'viewer' })).json()).readings[0];
    expect(m2).toMatchObject({ q: 'comm_loss', v: { ua: 230 } });
    expect(m2.goodTs).toBeLessThan(m2.ts);
    sim.setDead(2, false);
    expect(await transitions(ws, sources, 2, 10_000, 800)).toEqual([
      'comm-loss:dead-m2 normal→unack_active raise stale',
      'comm-loss:dead-m2 unack_active→unack_rtn clear',
    ]);
    const raise = ws.frames.find((f) => f.type === 'alarm' && f.transition.alarmId === 'comm-loss:dead-m2');
    expect(raise.transition.message).toMatch(/^no good reading for \d+ s \(agent reports the meter does not answer\)$/);
  });

  it('an agent that goes offline raises one comm-loss alarm on the agent, its meters\' alarms suppressed; back online, it clears and they return', async () => {
    const before = brief(ws.frames, sources).length;
    await agent!.stop(); // publishes the retained `offline` presence, as the last will would
    agent = null;
    const lost = (await transitions(ws, sources, before + 3, 10_000, 200)).slice(before);
    expect(lost).toEqual([
      'i-high:dead-m1 unack_active→suppressed suppress',
      'comm-loss:dead-m2 unack_rtn→suppressed suppress',
      `comm-loss:${AGENT} normal→unack_active raise agent_offline`,
    ]);
    const raise = ws.frames.find((f) => f.type === 'alarm' && f.transition.alarmId === `comm-loss:${AGENT}`);
    expect(raise.alarm).toMatchObject({ source: AGENT, site: SITE, room: 'r1', severityName: 'medium' });
    expect(raise.transition.detail).toEqual({ scope: 'agent', agent: AGENT, rooms: [{ site: SITE, room: 'r1' }], devices: ['dead-m1', 'dead-m2'] });
    expect(raise.transition.message).toContain('dead-m1, dead-m2');
    // the meters' own comm-loss alarms fire once their 3 s are up, born suppressed: nothing annunciates but the agent's
    const later = (await transitions(ws, sources, before + 6, 10_000, 500)).slice(before + 3);
    expect(later.filter((x) => x.startsWith('comm-loss:dead-m1'))).toEqual(['comm-loss:dead-m1 normal→suppressed suppress', 'comm-loss:dead-m1 suppressed→suppressed raise stale']);
    expect(later.filter((x) => x.startsWith('comm-loss:dead-m2'))).toEqual(['comm-loss:dead-m2 suppressed→suppressed raise stale']);
    expect(later).toHaveLength(3);
    const { alarms } = await (await ts.fetch('/api/alarms?state=unack_active', { role: 'viewer' })).json();
    expect(alarms.map((a: any) => a.alarmId)).toEqual([`comm-loss:${AGENT}`]);

    await startAgent();
    const back = (await transitions(ws, sources, before + 12, 15_000, 800)).slice(before + 6);
    // presence online: the agent alarm clears at once; each meter reports (its comm-loss clears, still hidden)
    // within the 3 s the stale rule gives it, and its suppression lifts as it does: only the still-active
    // over-current annunciates again
    expect(back[0]).toBe(`comm-loss:${AGENT} unack_active→unack_rtn clear`);
    expect(back.slice(1).sort()).toEqual([
      'comm-loss:dead-m1 suppressed→normal unsuppress',
      'comm-loss:dead-m1 suppressed→suppressed clear',
      'comm-loss:dead-m2 suppressed→normal unsuppress',
      'comm-loss:dead-m2 suppressed→suppressed clear',
      'i-high:dead-m1 suppressed→unack_active unsuppress',
    ]);
    const at = (x: string) => back.indexOf(x);
    for (const m of ['dead-m1', 'dead-m2']) expect(at(`comm-loss:${m} suppressed→suppressed clear`)).toBeLessThan(at(`comm-loss:${m} suppressed→normal unsuppress`));
    expect(at('comm-loss:dead-m1 suppressed→suppressed clear')).toBeLessThan(at('i-high:dead-m1 suppressed→unack_active unsuppress'));
  });

  it('the comm-loss rule disabled while the agent is offline: the agent alarm clears with it', async () => {
    await agent!.stop();
    agent = null;
    await eventually(async () => (await (await ts.fetch('/api/alarms?state=unack_active', { role: 'viewer' })).json()).alarms.some((a: any) => a.alarmId === `comm-loss:${AGENT}`), 10_000, 'the agent alarm');
    const before = brief(ws.frames, sources).length;
    const res = await ts.fetch('/api/alarm-rules/comm-loss', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enabled: false }), role: 'admin' });
    expect(res.status).toBe(200);
    const after = (await transitions(ws, sources, before + 1, 10_000, 500)).slice(before);
    expect(after[0]).toBe(`comm-loss:${AGENT} unack_active→unack_rtn clear`);
    // the meters' own comm-loss alarms end with the rule, still hidden
    expect(after.slice(1).every((x) => / suppressed→suppressed clear$/.test(x))).toBe(true);
  });
});
