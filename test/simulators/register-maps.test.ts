/**
 * The simulated meters encode like the real ones (golden words from the
 * vendors' register maps, worked out with Python struct), and answer on the
 * wire with the function code the real meter uses, checked with
 * modbus-serial's own client.
 */
import modbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adw300RegisterMap,
  createMeterModel,
  em24RegisterMap,
  METER_TYPES,
  MODEL_QUANTITIES,
  readRegisters,
  registerMapOf,
  sdm630RegisterMap,
  startModbusSimulator,
  type MeterValues,
  type ModbusSimulator,
} from '../../simulators/index.ts';

const values = (v: Partial<MeterValues>): MeterValues => ({ ...(Object.fromEntries(MODEL_QUANTITIES.map((q) => [q, 0])) as MeterValues), ...v });
const words = (map: ReturnType<typeof sdm630RegisterMap>, v: Partial<MeterValues>, fc: number, address: number, count: number) => {
  const r = readRegisters(map, values(v), fc, address, count);
  if (!r.ok) throw new Error(`exception ${r.exception}`);
  return r.words;
};

describe('register maps', () => {
  it('SDM630: FC 04 float32 ABCD in V, A, W (kW × 1000), VA, var, Hz, kWh', () => {
    const m = sdm630RegisterMap();
    expect(words(m, { ua: 230.1 }, 4, 0x00, 2)).toEqual([0x4366, 0x199a]);
    expect(words(m, { pa: 2.4155 }, 4, 0x0c, 2)).toEqual([0x4516, 0xf800]);
    expect(words(m, { q: -1.2102 }, 4, 0x3c, 2)).toEqual([0xc497, 0x4666]);
    expect(words(m, { f: 49.98, ep_imp: 123456.7 }, 4, 0x46, 4)).toEqual([0x4247, 0xeb85, 0x47f1, 0x205a]);
    // holding registers are not where this meter keeps them
    expect(readRegisters(m, values({}), 3, 0, 2)).toEqual({ ok: false, exception: 2 });
  });

  it('EM24: FC 04 INT32 low word first (V×10, A×1000, W×10, kWh×10), INT16 PF×1000 and Hz×10', () => {
    const m = em24RegisterMap();
    expect(words(m, { ua: 231.4 }, 4, 0x00, 2)).toEqual([0x090a, 0x0000]);
    expect(words(m, { pa: -1.2345 }, 4, 0x12, 2)).toEqual([0xcfc7, 0xffff]);
    expect(words(m, { pf: -0.95, f: 49.9 }, 4, 0x35, 3)).toEqual([0xfc4a, 0x0000, 0x01f3]);
    expect(words(m, { ep_imp: 123456.7 }, 4, 0x42, 2)).toEqual([0xd687, 0x0012]);
  });

  it('ADW300: FC 03 uint16 V×10 and A×100, int32 W and kWh×100 high word first', () => {
    const m = adw300RegisterMap();
    expect(words(m, { ua: 229.7, ub: 230, uc: 231.5 }, 3, 20, 3)).toEqual([0x08f9, 0x08fc, 0x090b]);
    expect(words(m, { ia: 12.34 }, 3, 26, 1)).toEqual([0x04d2]);
    expect(words(m, { pb: -2.5 }, 3, 32, 2)).toEqual([0xffff, 0xf63c]);
    expect(words(m, { ep_imp: 9876.54 }, 3, 62, 2)).toEqual([0x000f, 0x1206]);
    // a current beyond the register saturates, it does not wrap
    expect(words(m, { ia: 1000 }, 3, 26, 1)).toEqual([0xffff]);
  });

  it('every meter type has a map', () => {
    for (const t of METER_TYPES) expect(registerMapOf(t).registers.length).toBeGreaterThan(5);
  });
});

describe('mixed gateway on the wire', () => {
  const ModbusRTU = modbusSerial.default;
  let sim: ModbusSimulator;
  const client = new ModbusRTU();
  beforeAll(async () => {
    sim = await startModbusSimulator({
      port: 0,
      units: [
        { unitId: 1, model: createMeterModel({ profile: 'feeder' }), registerMap: sdm630RegisterMap() },
        { unitId: 2, model: createMeterModel({ profile: 'feeder' }), registerMap: em24RegisterMap() },
        { unitId: 3, model: createMeterModel({ profile: 'feeder' }), registerMap: adw300RegisterMap() },
      ],
    });
    await client.connectTCP('127.0.0.1', { port: sim.port });
    client.setTimeout(500);
  });
  afterAll(async () => {
    await new Promise<void>((r) => client.close(() => r()));
    await sim.stop();
  });

  it('each unit answers its own function code and map', async () => {
    sim.setOverride(1, { ua: 230.1 });
    sim.setOverride(2, { ua: 231.4 });
    sim.setOverride(3, { ua: 229.7 });
    client.setID(1);
    expect((await client.readInputRegisters(0, 2)).data).toEqual([0x4366, 0x199a]);
    client.setID(2);
    expect((await client.readInputRegisters(0, 2)).data).toEqual([0x090a, 0]);
    client.setID(3);
    expect((await client.readHoldingRegisters(20, 1)).data).toEqual([0x08f9]);
    await expect(client.readInputRegisters(20, 1)).rejects.toMatchObject({ modbusCode: 2 });
  });
});
