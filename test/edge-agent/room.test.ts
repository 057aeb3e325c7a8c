/**
 * Room equipment over MQTT: each device's own JSON mapped by configuration to
 * canonical quantities (pure), and end to end: the room-sensor simulator
 * publishes, the agent maps and sends on its uplink, a subscriber checks the
 * contract; a sensor that goes silent becomes comm_loss; junk is counted.
 */
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReadingsPayload, readingsTopic, type Reading } from '../../contract/index.ts';
import { createAgent, loadAgentConfig, mapPayload, type AgentConfigInput, type PayloadMapping } from '../../edge-agent/index.ts';
import { sensorPayload, SensorConfigSchema, startRoomSensors, type RoomSensors } from '../../simulators/index.ts';
import { startMosquitto, type ServiceHandle } from '../harness/index.ts';
import { memoryLog, sleep, waitFor } from './support.ts';

const uid = randomBytes(4).toString('hex');
const T = Date.UTC(2026, 0, 7, 6, 0, 0);

/** The mappings of the demo's room devices, as a config would write them. */
const ROOM_MAP = {
  temp_humidity: { map: { temp: 'temperature', humidity: 'humidity' } },
  transformer_temp: { map: { t_oil: 'oil.temp', t_winding: 'winding.temp' }, ts: { path: 'time', format: 'iso' } },
  door: { map: { door: { path: 'contact', invert: true } } },
  water: { map: { water: 'water_leak' } },
  smoke: { map: { smoke: 'smoke' } },
} as const;

const mapping = (kind: keyof typeof ROOM_MAP): PayloadMapping => {
  const c = loadAgentConfig({ agent: 'a', site: 's', mqtt: { url: 'mqtt://b' }, room: { devices: [{ id: 'x', topic: 't', ...ROOM_MAP[kind] }] } });
  return c.room!.devices[0]!;
};

describe('room payload mapping', () => {
  it('maps each simulated sensor kind to canonical quantities', () => {
    const cfg = (kind: string) => SensorConfigSchema.parse({ id: 'x', kind });
    const th = sensorPayload(cfg('temp_humidity'), T);
    expect(mapPayload(th, mapping('temp_humidity'))).toEqual({ v: { temp: th.temperature, humidity: th.humidity }, problems: [] });
    const tx = sensorPayload(cfg('transformer_temp'), T) as { oil: { temp: number }; winding: { temp: number } };
    expect(mapPayload(tx, mapping('transformer_temp'))).toEqual({ v: { t_oil: tx.oil.temp, t_winding: tx.winding.temp }, ts: T, problems: [] });
    expect(mapPayload({ contact: true }, mapping('door')).v).toEqual({ door: 0 }); // closed
    expect(mapPayload({ contact: false }, mapping('door')).v).toEqual({ door: 1 }); // open
    expect(mapPayload({ water_leak: true, battery: 88 }, mapping('water')).v).toEqual({ water: 1 });
    expect(mapPayload({ smoke: false }, mapping('smoke')).v).toEqual({ smoke: 0 });
  });

  it('scale, offset, named states, numeric strings, epoch seconds; junk is a named problem, never a value', () => {
    const m: PayloadMapping = {
      map: {
        temp: { path: 'tempF', scale: 5 / 9, offset: -160 / 9, invert: false },
        humidity: { path: 'rh', scale: 1, offset: 0, invert: false },
        door: { path: 'state', scale: 1, offset: 0, invert: false, states: { OPEN: 1, CLOSED: 0 } },
      },
      ts: { path: 'ts', format: 's' },
    };
    expect(mapPayload({ tempF: 212, rh: '55.5', state: 'OPEN', ts: 1767765600 }, m)).toEqual({ v: { temp: 100, humidity: 55.5, door: 1 }, ts: 1767765600000, problems: [] });
    const junk = mapPayload({ tempF: 'warm', rh: 140, state: 'AJAR' }, m);
    expect(junk.v).toEqual({});
    expect(junk.problems.map((p) => p.problem)).toEqual(['bad_value', 'out_of_range', 'bad_value', 'bad_ts']);
    expect(mapPayload([1, 2], m).problems).toEqual([{ problem: 'not_an_object' }]);
    expect(mapPayload({ other: 1, ts: 5 }, m).problems.map((p) => p.problem)).toEqual(['no_values']);
  });

  it('the config: shorthand paths, only canonical quantities, no topic filters, ids unique across meters and room devices', () => {
    let issues: readonly string[] = [];
    try {
      loadAgentConfig({
        agent: 'a',
        site: 's',
        mqtt: { url: 'mqtt://b' },
        devices: [{ id: 'm1', profile: 'dtsu666', transport: { kind: 'tcp', host: 'h', port: 502 }, unitId: 1 }],
        room: {
          devices: [
            { id: 'm1', topic: 'room/x', map: { temp: 't' } },
            { id: 'th', topic: 'room/+/th', map: { degrees: 't' } },
            { id: 'th2', topic: 'room/th2', map: {} },
          ],
        },
      });
    } catch (e) {
      issues = (e as { issues: readonly string[] }).issues;
    }
    expect(issues).toEqual([
      'room.devices[1].topic: a topic, not a filter: no + or #',
      expect.stringMatching(/^room\.devices\[1\]\.map\.degrees: /),
      'room.devices[2].map: map at least one quantity',
      'room.devices[0].id: "m1" is also devices[0]',
    ]);
  });
});

describe('room equipment end to end', () => {
  let broker: ServiceHandle;
  let sensors: RoomSensors;
  beforeAll(async () => {
    broker = await startMosquitto();
    sensors = await startRoomSensors({
      mqttUrl: broker.url,
      sensors: (['temp_humidity', 'transformer_temp', 'door', 'water', 'smoke'] as const).map((kind) => ({ id: `${kind}-${uid}`, kind, intervalMs: 200 })),
    });
  });
  afterAll(async () => {
    await sensors?.stop();
    await broker?.stop();
  });

  it('mapped readings go out on the agent uplink; a door that opens is sent at once; junk is counted; silence is comm_loss', async () => {
    const site = `room-${uid}`;
    const agentId = `room-agent-${uid}`;
    const got: Reading[] = [];
    const sub = await mqtt.connectAsync(broker.url, { clientId: `room-watch-${uid}`, reconnectPeriod: 0 });
    sub.on('message', (_t, p) => {
      const r = parseReadingsPayload(p, agentId);
      expect(r.ok && r.value.rejected).toEqual([]);
      if (r.ok) got.push(...r.value.readings);
    });
    await sub.subscribeAsync(readingsTopic(site, agentId), { qos: 1 });
    const { log, lines } = memoryLog();
    const kinds = Object.keys(ROOM_MAP) as (keyof typeof ROOM_MAP)[];
    const agent = createAgent(
      loadAgentConfig({
        agent: agentId,
        site,
        mqtt: { url: broker.url },
        publishIntervalMs: 100,
        room: { devices: kinds.map((k) => ({ id: `${k}-${uid}`, topic: sensors.topicOf(`${k}-${uid}`), staleAfterMs: 1500, ...ROOM_MAP[k] })) },
      }),
      { log },
    );
    try {
      await agent.start();
      const of = (k: string) => got.filter((r) => r.device === `${k}-${uid}`);
      await waitFor('readings of every room device', () => kinds.every((k) => of(k).length >= 2), 10_000);
      const th = of('temp_humidity').at(-1)!;
      expect(th.q).toBe('good');
      expect(th.v.temp).toBeGreaterThan(15);
      expect(th.v.humidity).toBeGreaterThan(20);
      expect(Object.keys(th.v).sort()).toEqual(['humidity', 'temp']);
      // the transformer monitor's own timestamp is the reading's
      const tx = of('transformer_temp').at(-1)!;
      expect(Object.keys(tx.v).sort()).toEqual(['t_oil', 't_winding']);
      expect(tx.ts % 1000).toBe(new Date(tx.ts).getUTCMilliseconds());
      expect(of('door').at(-1)!.v).toEqual({ door: 0 });
      expect(of('water').at(-1)!.v).toEqual({ water: 0 });
      expect(of('smoke').at(-1)!.v).toEqual({ smoke: 0 });

      // the door opens: published at once by the sensor, on the uplink within a publish period
      const opened = Date.now();
      sensors.set(`door-${uid}`, { contact: false });
      await waitFor('door open', () => of('door').some((r) => r.v.door === 1), 2000);
      expect(Date.now() - opened).toBeLessThan(1000);
      sensors.clear(`door-${uid}`);

      // junk on a device's topic: counted, logged once, nothing sent for it, nothing crashes
      const junk = await mqtt.connectAsync(broker.url, { clientId: `room-junk-${uid}`, reconnectPeriod: 0 });
      for (let i = 0; i < 5; i++) {
        await junk.publishAsync(sensors.topicOf(`smoke-${uid}`), '{"smoke": "maybe"');
        await junk.publishAsync(sensors.topicOf(`smoke-${uid}`), JSON.stringify({ smoke: 'maybe' }));
      }
      await junk.endAsync();
      await waitFor('junk counted', () => (agent.stats().room[`smoke-${uid}`]!.problems.not_json ?? 0) >= 5 && (agent.stats().room[`smoke-${uid}`]!.problems.bad_value ?? 0) >= 5, 3000);
      expect(lines.filter((l) => l.deviceId === `smoke-${uid}` && l.problem === 'not_json')).toHaveLength(1);

      // the transformer monitor goes quiet: comm_loss (no values) after staleAfterMs, then good again when it speaks
      await sensors.stop();
      const quietAt = Date.now();
      await waitFor('comm_loss of a silent sensor', () => of('transformer_temp').some((r) => r.q === 'comm_loss'), 5000);
      const loss = of('transformer_temp').find((r) => r.q === 'comm_loss')!;
      expect(loss.v).toEqual({});
      expect(loss.ts - quietAt).toBeGreaterThanOrEqual(1000);
      expect(agent.stats().room[`transformer_temp-${uid}`]!.state).toBe('comm_loss');
      await sleep(100);
    } finally {
      await agent.stop();
      await sub.endAsync();
      sensors = await startRoomSensors({ mqttUrl: broker.url, sensors: [] }); // afterAll stops it again
    }
    const changes = lines.filter((l) => l.msg === 'device state changed' && l.deviceId === `transformer_temp-${uid}`).map((l) => `${String(l.from)}→${String(l.to)}`);
    expect(changes).toEqual(['unknown→good', 'good→comm_loss']);
  });
});
