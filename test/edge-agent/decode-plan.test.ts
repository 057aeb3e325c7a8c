import { describe, expect, it } from 'vitest';
import {
  applyScale,
  BUILTIN_PROFILES,
  decodeBlock,
  decodeRaw,
  planReads,
  shortestFloat32,
  type RegisterSpec,
} from '../../edge-agent/index.ts';

// Golden words computed independently (Buffer.writeFloatBE / writeInt32BE), not with the code under test.
describe('decodeRaw', () => {
  it('float32 ABCD (high word first): DTSU666 voltage 2314.0 = 0x4510 0xA000', () => {
    expect(decodeRaw([0x4510, 0xa000], 0, 'float32', 'ABCD')).toBe(2314);
    expect(decodeRaw([0x492d, 0xd400], 0, 'float32', 'ABCD')).toBe(712000);
    expect(decodeRaw([0xbfc0, 0x0000], 0, 'float32', 'ABCD')).toBe(-1.5);
  });

  it('float32 CDAB (low word first) is the same value with the words swapped', () => {
    expect(decodeRaw([0xa000, 0x4510], 0, 'float32', 'CDAB')).toBe(2314);
    expect(decodeRaw([0x0000, 0xbfc0], 0, 'float32', 'CDAB')).toBe(-1.5);
    // and reading swapped words as ABCD gives garbage, not the value
    expect(decodeRaw([0xa000, 0x4510], 0, 'float32', 'ABCD')).not.toBe(2314);
  });

  it('float32 comes back as the shortest decimal of the float32 (12345.6, not 12345.599609375)', () => {
    expect(decodeRaw([0x4640, 0xe666], 0, 'float32', 'ABCD')).toBe(12345.6);
    expect(decodeRaw([0x3dcc, 0xcccd], 0, 'float32', 'ABCD')).toBe(0.1);
    expect(shortestFloat32(Math.fround(229.4))).toBe(229.4);
    expect(shortestFloat32(Number.NaN)).toBeNaN();
  });

  it('int32 in both word orders: -123456 = 0xFFFE 0x1DC0', () => {
    expect(decodeRaw([0xfffe, 0x1dc0], 0, 'int32', 'ABCD')).toBe(-123456);
    expect(decodeRaw([0x1dc0, 0xfffe], 0, 'int32', 'CDAB')).toBe(-123456);
  });

  it('uint32 above 2³¹ stays positive: 3 000 000 000 = 0xB2D0 0x5E00', () => {
    expect(decodeRaw([0xb2d0, 0x5e00], 0, 'uint32', 'ABCD')).toBe(3_000_000_000);
    expect(decodeRaw([0x5e00, 0xb2d0], 0, 'uint32', 'CDAB')).toBe(3_000_000_000);
    expect(decodeRaw([0xb2d0, 0x5e00], 0, 'int32', 'ABCD')).toBe(3_000_000_000 - 2 ** 32);
  });

  it('int16 negative and uint16 of the same word', () => {
    expect(decodeRaw([0xff85], 0, 'int16', 'ABCD')).toBe(-123);
    expect(decodeRaw([0xff85], 0, 'uint16', 'ABCD')).toBe(65413);
    expect(decodeRaw([0x8000], 0, 'int16', 'ABCD')).toBe(-32768);
    expect(decodeRaw([0x7fff], 0, 'int16', 'ABCD')).toBe(32767);
    // word order does not apply to one register
    expect(decodeRaw([0xff85], 0, 'int16', 'CDAB')).toBe(-123);
  });

  it('reads at an offset inside a block and refuses to run past it', () => {
    expect(decodeRaw([0, 0, 0x4510, 0xa000], 2, 'float32', 'ABCD')).toBe(2314);
    expect(() => decodeRaw([0x4510], 0, 'float32', 'ABCD')).toThrow(RangeError);
  });
});

describe('applyScale', () => {
  it('decimal scales give the decimal (a division, not a multiplication by an inexact 0.1)', () => {
    expect(2297 * 0.1).not.toBe(229.7); // why applyScale exists
    expect(applyScale(2297, 0.1)).toBe(229.7);
    expect(applyScale(2314, 0.1)).toBe(231.4);
    expect(applyScale(712000, 0.0001)).toBe(71.2);
    expect(applyScale(105250, 0.001)).toBe(105.25);
    expect(applyScale(4999, 0.01)).toBe(49.99);
    expect(applyScale(-123, 0.1)).toBe(-12.3);
  });
  it('a float register scaled keeps its decimals, without binary noise', () => {
    expect(7610.3 / 1000).not.toBe(7.6103); // why
    expect(applyScale(7610.3, 0.001)).toBe(7.6103);
    expect(applyScale(0.1 + 0.2, 1)).toBe(0.1 + 0.2); // scale 1: untouched
    expect(applyScale(1.1, 3)).toBe(3.3);
  });
  it('other scales multiply', () => {
    expect(applyScale(12, 1)).toBe(12);
    expect(applyScale(12, 2.5)).toBe(30);
    expect(applyScale(3, 0.4)).toBeCloseTo(1.2, 12);
  });
});

const reg = (r: Partial<RegisterSpec> & Pick<RegisterSpec, 'quantity' | 'address'>): RegisterSpec => ({
  fc: 3,
  type: 'float32',
  wordOrder: 'ABCD',
  scale: 1,
  ...r,
});

describe('decodeBlock', () => {
  it('decodes every register of a block with its own type, word order and scale', () => {
    const regs = [
      reg({ quantity: 'ua', address: 100, scale: 0.1 }),
      reg({ quantity: 'p', address: 102, type: 'int32', wordOrder: 'CDAB', scale: 0.001 }),
      reg({ quantity: 'pf', address: 104, type: 'int16', scale: 0.001 }),
      reg({ quantity: 'f', address: 105, type: 'uint16', scale: 0.01 }),
    ];
    // p = -123456 W×… as int32 CDAB; pf = -0.9 as int16 (0xFC7C = -900)
    const data = [0x4510, 0xa000, 0x1dc0, 0xfffe, 0xfc7c, 4999];
    expect(decodeBlock(regs, 100, data)).toEqual({ values: { ua: 231.4, p: -123.456, pf: -0.9, f: 49.99 }, invalid: [] });
  });

  it('drops NaN and values outside the contract range, keeps the rest', () => {
    const regs = [reg({ quantity: 'ua', address: 0 }), reg({ quantity: 'ia', address: 2 }), reg({ quantity: 'f', address: 4 })];
    // NaN (0x7FC0 0x0000), -1.5 A (currents are ≥ 0), 50
    const data = [0x7fc0, 0x0000, 0xbfc0, 0x0000, 0x4248, 0x0000];
    const r = decodeBlock(regs, 0, data);
    expect(r.values).toEqual({ f: 50 });
    expect(r.invalid.map((i) => i.quantity)).toEqual(['ua', 'ia']);
  });

  it('decodes bits (FC 01/02) as 0/1', () => {
    const regs = [reg({ quantity: 'door', address: 10, fc: 2, type: 'bool' }), reg({ quantity: 'water', address: 12, fc: 2, type: 'bool' })];
    expect(decodeBlock(regs, 10, [1, 0, 0]).values).toEqual({ door: 1, water: 0 });
  });
});

describe('planReads', () => {
  it('plans the DTSU666 profile as two reads: the 0x2000 block and the energy block', () => {
    const dtsu = BUILTIN_PROFILES.get('dtsu666')!;
    const plan = planReads(dtsu.registers, { maxGap: dtsu.maxGap });
    expect(plan.map((r) => ({ fc: r.fc, address: r.address, count: r.count, n: r.registers.length }))).toEqual([
      { fc: 3, address: 0x2000, count: 0x46, n: 16 },
      { fc: 3, address: 0x401e, count: 12, n: 2 },
    ]);
  });

  it('with no gap allowance, only touching registers share a read', () => {
    const dtsu = BUILTIN_PROFILES.get('dtsu666')!;
    const plan = planReads(dtsu.registers, { maxGap: 0 });
    expect(plan.map((r) => [r.address, r.count])).toEqual([
      [0x2000, 28], // uab..q contiguous
      [0x202a, 2],
      [0x2044, 2],
      [0x401e, 2],
      [0x4028, 2],
    ]);
  });

  it('merges across a gap of exactly maxGap and not one more', () => {
    const regs = [reg({ quantity: 'ua', address: 0 }), reg({ quantity: 'ub', address: 6 })]; // gap 2..5 = 4
    expect(planReads(regs, { maxGap: 4 }).map((r) => [r.address, r.count])).toEqual([[0, 8]]);
    expect(planReads(regs, { maxGap: 3 }).map((r) => [r.address, r.count])).toEqual([[0, 2], [6, 2]]);
  });

  it('never reads more than 125 registers at once', () => {
    const at = (quantity: RegisterSpec['quantity'], address: number, type: RegisterSpec['type'] = 'uint16') => reg({ quantity, address, type });
    expect(planReads([at('ua', 0), at('ub', 124)], { maxGap: 124 }).map((r) => [r.address, r.count])).toEqual([[0, 125]]);
    expect(planReads([at('ua', 0), at('ub', 124, 'float32')], { maxGap: 124 }).map((r) => [r.address, r.count])).toEqual([[0, 1], [124, 2]]);
    // 100 consecutive float32 → 200 registers → two reads, each ≤ 125
    const many = Array.from({ length: 100 }, (_, i) => at('ua', i * 2, 'float32'));
    const plan = planReads(many);
    expect(plan.map((r) => r.count)).toEqual([124, 76]);
    expect(plan.flatMap((r) => r.registers)).toHaveLength(100);
    // a gateway that takes fewer per request
    expect(planReads(many, { maxRegisters: 64 }).every((r) => r.count <= 64)).toBe(true);
  });

  it('keeps function codes apart and orders reads by fc, then address', () => {
    const regs = [
      reg({ quantity: 'ua', address: 10, fc: 4 }),
      reg({ quantity: 'ub', address: 10, fc: 3 }),
      reg({ quantity: 'uc', address: 12, fc: 3 }),
      reg({ quantity: 'door', address: 0, fc: 2, type: 'bool' }),
      reg({ quantity: 'smoke', address: 1500, fc: 2, type: 'bool' }),
    ];
    expect(planReads(regs, { maxGap: 2000 }).map((r) => [r.fc, r.address, r.count])).toEqual([
      [2, 0, 1501], // bits: up to 2000 per read
      [3, 10, 4],
      [4, 10, 2],
    ]);
  });

  it('an overlapping register joins the read that covers it', () => {
    const regs = [reg({ quantity: 'p', address: 0, type: 'int32' }), reg({ quantity: 'pa', address: 1, type: 'uint16' })];
    expect(planReads(regs, { maxGap: 0 }).map((r) => [r.address, r.count, r.registers.length])).toEqual([[0, 2, 2]]);
  });

  it('rejects nonsense options', () => {
    expect(() => planReads([], { maxGap: -1 })).toThrow(RangeError);
    expect(() => planReads([], { maxRegisters: 126 })).toThrow(RangeError);
    expect(planReads([])).toEqual([]);
  });
});
