/**
 * Every built-in profile decodes golden register images to the right
 * canonical values; profiles from files are validated like the built-ins;
 * and each profile reads its simulated meter over real Modbus TCP, many unit
 * ids of mixed types behind one gateway port.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Values } from '../../contract/index.ts';
import {
  BUILTIN_PROFILES,
  ConfigError,
  decodeBlock,
  DevicePoller,
  loadAgentConfig,
  loadProfileFiles,
  ModbusTcpConnection,
  planReads,
  type DeviceProfile,
  type UnsequencedReading,
} from '../../edge-agent/index.ts';
import { createMeterModel, registerMapOf, startModbusSimulator, type MeterType, type ModbusSimulator } from '../../simulators/index.ts';
import { testLog } from '../support/logger.ts';
import { tmpDir } from './support.ts';

/** Decodes a register image (address → word, 0 elsewhere) the way a poll would: planned reads, then decode. */
function decodeImage(profile: DeviceProfile, image: Record<number, number>): Values {
  const out: Values = {};
  for (const read of planReads(profile.registers, { maxGap: profile.maxGap, maxRegisters: profile.maxRegistersPerRead })) {
    const words = Array.from({ length: read.count }, (_, i) => image[read.address + i] ?? 0);
    const r = decodeBlock(read.registers, read.address, words);
    expect(r.invalid).toEqual([]);
    Object.assign(out, r.values);
  }
  return out;
}

const plan = (id: string) => {
  const p = BUILTIN_PROFILES.get(id)!;
  return planReads(p.registers, { maxGap: p.maxGap, maxRegisters: p.maxRegistersPerRead }).map((r) => [r.fc, r.address, r.count]);
};

// Golden words worked out by hand / Python struct, not by the simulator's encoder.
describe('golden decodes', () => {
  it('Eastron SDM630: FC 04 float32 ABCD, plain units, W → kW', () => {
    const image = {
      0x00: 0x4366, 0x01: 0x199a, // 230.1 V
      0x02: 0x4365, 0x03: 0xcccd, // 229.8
      0x04: 0x4367, 0x05: 0x0000, // 231.0
      0x06: 0x4128, 0x08: 0x4134, 0x0a: 0x411c, // 10.5, 11.25, 9.75 A
      0x0c: 0x4516, 0x0d: 0xf800, // 2415.5 W
      0x0e: 0x4521, 0x0f: 0x5e66, // 2581.9 W
      0x10: 0x450c, 0x11: 0xbb33, // 2251.7 W
      0x34: 0x45e2, 0x35: 0x88cd, // 7249.1 W
      0x38: 0x45ed, 0x39: 0xd266, // 7610.3 VA
      0x3c: 0xc497, 0x3d: 0x4666, // -1210.2 var
      0x3e: 0x3f73, 0x3f: 0xb646, // 0.952
      0x46: 0x4247, 0x47: 0xeb85, // 49.98 Hz
      0x48: 0x47f1, 0x49: 0x205a, // 123456.7 kWh
      0x4a: 0x4148, 0x4b: 0x0000, // 12.5 kWh
    };
    expect(decodeImage(BUILTIN_PROFILES.get('sdm630')!, image)).toEqual({
      ua: 230.1, ub: 229.8, uc: 231, ia: 10.5, ib: 11.25, ic: 9.75,
      pa: 2.4155, pb: 2.5819, pc: 2.2517, p: 7.2491, s: 7.6103, q: -1.2102, pf: 0.952, f: 49.98,
      ep_imp: 123456.7, ep_exp: 12.5,
    });
    expect(plan('sdm630')).toEqual([[4, 0x00, 0x4c]]); // one request for the lot
  });

  it('Carlo Gavazzi EM24: FC 04 INT32 low word first, INT16 PF and Hz', () => {
    const image = {
      0x00: 0x090a, 0x01: 0x0000, // 2314 → 231.4 V (low word first)
      0x02: 0x0904, 0x04: 0x0911, // 230.8, 232.1
      0x0c: 0x1405, 0x0e: 0x130b, 0x10: 0x1482, // 5.125, 4.875, 5.25 A
      0x12: 0xcfc7, 0x13: 0xffff, // -12345 → -1.2345 kW (exporting)
      0x14: 0x2af8, 0x16: 0x251c, // 11000, 9500 → 1.1, 0.95 kW
      0x28: 0x1fdb, // 8155 → 0.8155 kW
      0x35: 0xfc4a, // -950 → PF -0.95
      0x37: 0x01f3, // 499 → 49.9 Hz
      0x42: 0xd687, 0x43: 0x0012, // 1234567 → 123456.7 kWh
      0x5c: 0x0000, 0x5d: 0x0000,
    };
    expect(decodeImage(BUILTIN_PROFILES.get('em24')!, image)).toEqual({
      ua: 231.4, ub: 230.8, uc: 232.1, ia: 5.125, ib: 4.875, ic: 5.25,
      pa: -1.2345, pb: 1.1, pc: 0.95, p: 0.8155, pf: -0.95, f: 49.9, ep_imp: 123456.7, ep_exp: 0,
    });
    // the same words read high word first would be nonsense: word order matters
    expect(plan('em24')).toEqual([[4, 0x00, 0x18], [4, 0x28, 2], [4, 0x35, 3], [4, 0x42, 2], [4, 0x5c, 2]]);
  });

  it('Acrel ADW300: FC 03 uint16 ×0.1 V / ×0.01 A, int32 W and ×0.01 kWh', () => {
    const image = {
      20: 0x08f9, 21: 0x08fc, 22: 0x090b, // 229.7, 230.0, 231.5 V
      26: 0x04d2, 27: 0x0000, 28: 0xffff, // 12.34, 0, 655.35 A (uint16 top)
      30: 0x0000, 31: 0x05dc, // 1500 W
      32: 0xffff, 33: 0xf63c, // -2500 W
      34: 0x0000, 35: 0x04b0, // 1200 W
      36: 0x0000, 37: 0x00c8, // 200 W
      62: 0x000f, 63: 0x1206, // 987654 → 9876.54 kWh
      64: 0x0000, 65: 0x0001, // 0.01 kWh
    };
    expect(decodeImage(BUILTIN_PROFILES.get('adw300')!, image)).toEqual({
      ua: 229.7, ub: 230, uc: 231.5, ia: 12.34, ib: 0, ic: 655.35, pa: 1.5, pb: -2.5, pc: 1.2, p: 0.2, ep_imp: 9876.54, ep_exp: 0.01,
    });
    expect(plan('adw300')).toEqual([[3, 20, 18], [3, 62, 4]]);
  });

  it('CHINT DTSU666 stays as it was: two reads, scaled floats', () => {
    expect(plan('dtsu666')).toEqual([[3, 0x2000, 0x46], [3, 0x401e, 12]]);
  });
});

describe('profile files', () => {
  const work = tmpDir('gw-profiles-');
  afterAll(work.remove);

  it('the example profile shipped with the demo config loads', () => {
    const profiles = loadProfileFiles(['example-meter.yaml'], path.resolve(import.meta.dirname, '../../config/demo/profiles'));
    const p = profiles.get('example-pm')!;
    expect(p.registers).toHaveLength(11);
    expect(planReads(p.registers, { maxGap: p.maxGap, maxRegisters: p.maxRegistersPerRead }).map((r) => [r.fc, r.address, r.count])).toEqual([
      [2, 0, 1],
      [3, 0, 16],
      [3, 40, 2],
    ]);
  });

  it('a YAML file adds a profile the config can name; every problem of every file is listed with its file', () => {
    writeFileSync(
      path.join(work.dir, 'pm5xxx.yaml'),
      `# a field meter nobody wrote code for
id: acme-pm5
description: ACME PM5 (FC 03, uint32 high word first)
maxGap: 2
registers:
  - { quantity: ua, address: 100, fc: 3, type: uint32, scale: 0.01 }
  - { quantity: ia, address: 102, fc: 3, type: uint32, scale: 0.001 }
  - { quantity: door, address: 7, fc: 2, type: bool }
`,
    );
    const profiles = loadProfileFiles(['pm5xxx.yaml'], work.dir);
    expect(profiles.get('acme-pm5')!.registers).toHaveLength(3);
    expect(profiles.has('sdm630')).toBe(true); // built-ins stay
    const config = loadAgentConfig(
      { agent: 'a', site: 's', mqtt: { url: 'mqtt://b' }, profileFiles: ['pm5xxx.yaml'], devices: [{ id: 'x', profile: 'acme-pm5', transport: { kind: 'tcp', host: 'h', port: 502 }, unitId: 1 }] },
      { profiles },
    );
    expect(config.profileFiles).toEqual(['pm5xxx.yaml']);

    writeFileSync(path.join(work.dir, 'bad.yaml'), `id: acme-pm5\nregisters:\n  - { quantity: ua, address: 0, fc: 6, type: float32 }\n  - { quantity: watts, address: 2, fc: 3, type: float32 }\n`);
    writeFileSync(path.join(work.dir, 'dup.json'), JSON.stringify({ id: 'acme-pm5', registers: [{ quantity: 'ua', address: 0, fc: 3, type: 'float32' }] }));
    let err: ConfigError | undefined;
    try {
      loadProfileFiles(['pm5xxx.yaml', 'bad.yaml', 'dup.json', 'missing.yaml'], work.dir);
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.code).toBe('GW_ERR_PROFILE_INVALID');
    expect(err!.issues).toEqual([
      'bad.yaml: registers[0].fc: function code 6 is not allowed: the agent only sends read function codes 1–4',
      expect.stringMatching(/^bad\.yaml: registers\[1\]\.quantity: "watts" is not a canonical quantity/),
      'dup.json: id: profile "acme-pm5" is already defined in pm5xxx.yaml',
      expect.stringMatching(/^missing\.yaml: cannot read: ENOENT/),
    ]);
  });
});

describe('each profile against its simulated meter over Modbus TCP', () => {
  // one gateway port with every meter type behind it, and a second port: many unit ids, many ports
  const TYPES: readonly MeterType[] = ['dtsu666', 'sdm630', 'em24', 'adw300'];
  const sims: ModbusSimulator[] = [];
  const T0 = Date.UTC(2026, 0, 7, 4, 0, 0);
  beforeAll(async () => {
    for (let port = 0; port < 2; port++) {
      sims.push(
        await startModbusSimulator({
          port: 0,
          clock: () => T0,
          units: Array.from({ length: 8 }, (_, i) => ({
            unitId: i + 1,
            model: createMeterModel({ profile: 'commercial', seed: port * 10 + i }),
            registerMap: registerMapOf(TYPES[i % TYPES.length]!),
          })),
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(sims.map((s) => s.stop()));
  });

  it('reads the meter values through every profile, units and scales right', async () => {
    const set = { ua: 231.4, ub: 229.9, uc: 230.6, ia: 105.25, ib: 98.5, ic: 101.75, pa: 23.5, pb: -1.25, pc: 22.125, p: 44.375, q: 12.5, s: 46.1, pf: 0.962, f: 49.97, ep_imp: 12345.6, ep_exp: 78.9 };
    for (const sim of sims) for (let u = 1; u <= 8; u++) sim.setOverride(u, set);
    const readings: UnsequencedReading[] = [];
    const conns = sims.map((s) => new ModbusTcpConnection({ host: '127.0.0.1', port: s.port, log: testLog }));
    try {
      for (let p = 0; p < sims.length; p++) {
        for (let u = 1; u <= 8; u++) {
          const type = TYPES[(u - 1) % TYPES.length]!;
          const profile = BUILTIN_PROFILES.get(type)!;
          const device = loadAgentConfig({
            agent: 'a', site: 's', mqtt: { url: 'mqtt://b' },
            devices: [{ id: `p${p}u${u}`, profile: type, transport: { kind: 'tcp', host: '127.0.0.1', port: sims[p]!.port }, unitId: u, timeoutMs: 500 }],
          }).devices[0]!;
          const poller = new DevicePoller({
            device,
            reads: planReads(profile.registers, { maxGap: profile.maxGap, maxRegisters: profile.maxRegistersPerRead }),
            reader: conns[p]!,
            clock: () => T0,
            log: testLog,
            emit: (r) => readings.push(r),
          });
          await poller.pollOnce();
        }
      }
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
    expect(readings).toHaveLength(16);
    for (const r of readings) {
      expect(r.q, r.device).toBe('good');
      const type = TYPES[(Number(r.device.split('u')[1]) - 1) % TYPES.length]!;
      const read = BUILTIN_PROFILES.get(type)!.registers.map((x) => x.quantity);
      expect(Object.keys(r.v).sort(), `${r.device} (${type})`).toEqual([...read].sort());
      for (const reg of BUILTIN_PROFILES.get(type)!.registers) {
        const want = set[reg.quantity as keyof typeof set];
        if (want === undefined) continue; // line-line voltages follow from the model
        // an integer register holds the value to within half its step (EM24 Hz ÷10, ADW300 A ×0.01 …); a float32 to ~7 digits
        const tol = reg.type === 'float32' ? Math.abs(want) * 1e-6 : Math.abs(reg.scale) / 2 + 1e-9;
        expect(Math.abs(r.v[reg.quantity]! - want), `${r.device} (${type}) ${reg.quantity} = ${r.v[reg.quantity]}`).toBeLessThanOrEqual(tol);
      }
    }
  });
});
