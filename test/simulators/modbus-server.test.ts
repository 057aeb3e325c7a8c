/**
 * The simulator over a real Modbus TCP socket, read with modbus-serial's own
 * client (not the edge agent's), so the simulator is checked on the wire by a
 * third party.
 */
import net from 'node:net';
import modbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMeterModel, startModbusSimulator, type ModbusSimulator } from '../../simulators/index.ts';

const ModbusRTU = modbusSerial.default;
type Client = InstanceType<typeof ModbusRTU>;

const f32 = (words: number[], i: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(words[i]!, 0);
  b.writeUInt16BE(words[i + 1]!, 2);
  return b.readFloatBE(0);
};

async function failure(p: Promise<unknown>): Promise<{ modbusCode?: number; errno?: string; message?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { modbusCode?: number; errno?: string };
  }
  throw new Error('expected the request to fail');
}

describe('Modbus TCP simulator', () => {
  let sim: ModbusSimulator;
  let client: Client;
  const T0 = Date.UTC(2026, 0, 7, 4, 0, 0);

  beforeAll(async () => {
    sim = await startModbusSimulator({
      port: 0,
      units: [
        { unitId: 1, model: createMeterModel({ profile: 'residential', seed: 1 }) },
        { unitId: 7, model: createMeterModel({ profile: 'commercial', seed: 2 }) },
      ],
      clock: () => T0,
    });
    client = new ModbusRTU();
    await client.connectTCP('127.0.0.1', { port: sim.port });
    client.setTimeout(300);
  });

  afterAll(async () => {
    await new Promise<void>((r) => client.close(() => r()));
    await sim.stop();
  });

  it('listens on a free port and serves several unit ids on it', async () => {
    expect(sim.port).toBeGreaterThan(0);
    client.setID(1);
    const a = (await client.readHoldingRegisters(0x2000, 0x46)).data;
    client.setID(7);
    const b = (await client.readHoldingRegisters(0x2000, 0x46)).data;
    expect(f32(a, 6) / 10).toBeGreaterThan(215);
    expect(f32(a, 6)).not.toBe(f32(b, 6)); // two different meters
    expect(f32(a, 0x44) / 100).toBeCloseTo(50, 0);
  });

  it('answers the overridden values, recomputed at read time', async () => {
    sim.setOverride(1, { ua: 231.4, ia: 105.25, p: 71.2, ep_imp: 12345.6 });
    client.setID(1);
    const w = (await client.readHoldingRegisters(0x2000, 0x46)).data;
    expect(f32(w, 0x06)).toBe(2314);
    expect(f32(w, 0x0c)).toBe(105250);
    expect(f32(w, 0x12)).toBe(712000);
    expect(f32((await client.readHoldingRegisters(0x401e, 2)).data, 0)).toBeCloseTo(12345.6, 3);
    sim.clearOverride(1, 'ua');
    expect(f32((await client.readHoldingRegisters(0x2006, 2)).data, 0)).not.toBe(2314);
  });

  it('answers exception 02 for addresses outside the map, 01 for writes', async () => {
    client.setID(1);
    expect((await failure(client.readHoldingRegisters(0x3000, 2))).modbusCode).toBe(2);
    expect((await failure(client.readHoldingRegisters(0x2044, 4))).modbusCode).toBe(2);
    expect((await failure(client.readInputRegisters(0x2000, 2))).modbusCode).toBe(2);
    expect((await failure(client.writeRegister(0x2000, 1))).modbusCode).toBe(1);
    expect((await failure(client.writeRegisters(0x2000, [1, 2]))).modbusCode).toBe(1);
  });

  it('a dead unit does not answer at all; the others on the same port still do', async () => {
    sim.setDead(7, true);
    const before = sim.stats().unanswered;
    client.setID(7);
    const t0 = performance.now();
    const e = await failure(client.readHoldingRegisters(0x2000, 2));
    expect(e.errno).toBe('ETIMEDOUT');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(sim.stats().unanswered).toBe(before + 1);
    client.setID(1);
    expect((await client.readHoldingRegisters(0x2000, 2)).data).toHaveLength(2);
    sim.setDead(7, false);
    client.setID(7);
    expect((await client.readHoldingRegisters(0x2000, 2)).data).toHaveLength(2);
  });

  it('an unknown unit id is silent like a dead one; setOverride on it throws', async () => {
    client.setID(99);
    expect((await failure(client.readHoldingRegisters(0x2000, 2))).errno).toBe('ETIMEDOUT');
    expect(() => sim.setOverride(99, { ua: 1 })).toThrow(/no simulated unit 99/);
  });

  it('refuses bad unit lists', async () => {
    const model = createMeterModel({ profile: 'feeder' });
    await expect(startModbusSimulator({ port: 0, units: [{ unitId: 0, model }] })).rejects.toThrow(/1\.\.247/);
    await expect(startModbusSimulator({ port: 0, units: [{ unitId: 3, model }, { unitId: 3, model }] })).rejects.toThrow(/twice/);
  });

  it('stop() closes the listener and every connection', async () => {
    const s = await startModbusSimulator({ port: 0, units: [{ unitId: 1, model: createMeterModel({ profile: 'feeder' }) }] });
    const sock = net.createConnection({ host: '127.0.0.1', port: s.port });
    await new Promise((r) => sock.once('connect', r));
    const closed = new Promise((r) => sock.once('close', r));
    await s.stop();
    await closed;
    await s.stop(); // idempotent
    const refused = net.createConnection({ host: '127.0.0.1', port: s.port });
    const err = await new Promise<NodeJS.ErrnoException>((r) => refused.once('error', r));
    expect(err.code).toBe('ECONNREFUSED');
  });
});
