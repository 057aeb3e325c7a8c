/** Edge-agent config checks of the MQTT trust boundary. */
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../edge-agent/index.ts';

const room = { devices: [{ id: 'env1', topic: 'room/env1', map: { temp: 'temperature' } }] };
const base = { agent: 'a1', site: 's1' };

describe('agent config: MQTT credentials and TLS', () => {
  it('room equipment with uplink credentials needs its own broker (room.mqtt)', () => {
    expect(() => loadAgentConfig({ ...base, mqtt: { url: 'mqtt://h:1883', username: 'a1', password: 'p' }, room })).toThrow(/room\.mqtt: give the room's own sensor broker/);
    expect(() => loadAgentConfig({ ...base, mqtt: { url: 'mqtt://h:1883', username: 'a1', password: 'p' }, room: { ...room, mqtt: { url: 'mqtt://127.0.0.1:1884' } } })).not.toThrow();
    // an open broker (no credentials) may carry both, as before
    expect(() => loadAgentConfig({ ...base, mqtt: { url: 'mqtt://h:1883' }, room })).not.toThrow();
  });

  it('mqtt.tls: cert and key go together; rejectUnauthorized defaults to true; unknown keys refused', () => {
    const c = loadAgentConfig({ ...base, mqtt: { url: 'mqtts://h:8883', tls: { ca: 'ca.pem' } }, room: { ...room, mqtt: { url: 'mqtt://127.0.0.1:1884' } } });
    expect(c.mqtt.tls).toEqual({ ca: 'ca.pem', rejectUnauthorized: true });
    expect(() => loadAgentConfig({ ...base, mqtt: { url: 'mqtts://h:8883', tls: { cert: 'c.pem' } }, room })).toThrow(/mqtt\.tls\.cert: cert and key go together/);
    expect(() => loadAgentConfig({ ...base, mqtt: { url: 'mqtts://h:8883', tls: { verify: false } }, room })).toThrow(/mqtt\.tls/);
  });
});
