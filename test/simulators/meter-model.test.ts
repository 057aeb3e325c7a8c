import { describe, expect, it } from 'vitest';
import {
  createMeterModel,
  dtsu666RegisterMap,
  encodeValue,
  loadShape,
  MODEL_QUANTITIES,
  readRegisters,
  type MeterProfile,
} from '../../simulators/index.ts';

// 2026-01-07 (a Wednesday) 00:00 China Standard Time
const WED = Date.UTC(2026, 0, 6, 16, 0, 0);
const SAT = WED + 3 * 86_400_000;
const H = 3_600_000;

const avgP = (profile: MeterProfile, from: number, hours: number, seed = 3) => {
  const m = createMeterModel({ profile, seed });
  let sum = 0;
  const n = hours * 12;
  for (let i = 0; i < n; i++) sum += m.sample(from + i * 300_000).p;
  return sum / n;
};

describe('meter model', () => {
  it('every value of a whole day is physically plausible', () => {
    for (const profile of ['residential', 'commercial', 'feeder'] as const) {
      for (const seed of [1, 2, 99]) {
        const m = createMeterModel({ profile, seed });
        for (let t = WED; t < WED + 24 * H; t += 7 * 60_000) {
          const v = m.sample(t);
          for (const k of MODEL_QUANTITIES) expect(Number.isFinite(v[k]), k).toBe(true);
          for (const u of [v.ua, v.ub, v.uc]) expect(u).toBeGreaterThanOrEqual(218), expect(u).toBeLessThanOrEqual(236);
          // line-line ≈ √3 × phase-neutral
          expect(v.uab / ((v.ua + v.ub) / 2)).toBeCloseTo(Math.sqrt(3), 2);
          expect(v.pf).toBeGreaterThanOrEqual(0.9);
          expect(v.pf).toBeLessThanOrEqual(0.98);
          expect(Math.abs(v.f - 50)).toBeLessThanOrEqual(0.05);
          expect(v.pa + v.pb + v.pc).toBeCloseTo(v.p, 9);
          // current matches power: P = U·I·pf per phase
          expect((v.ua * v.ia * v.pfa) / 1000).toBeCloseTo(v.pa, 6);
          // per-phase unbalance of a few %
          const mean = v.p / 3;
          for (const ph of [v.pa, v.pb, v.pc]) expect(Math.abs(ph / mean - 1)).toBeLessThan(0.08);
          expect(v.ep_imp).toBeGreaterThan(0);
        }
      }
    }
  });

  it('residential peaks morning and evening; commercial is a daytime plateau, lower at weekends', () => {
    const at = (h: number) => WED + h * H;
    const resNight = avgP('residential', at(2), 2);
    const resMorning = avgP('residential', at(6.5), 2);
    const resNoon = avgP('residential', at(13.5), 2);
    const resEvening = avgP('residential', at(19), 2);
    expect(resMorning).toBeGreaterThan(1.5 * resNight);
    expect(resEvening).toBeGreaterThan(resMorning);
    expect(resEvening).toBeGreaterThan(1.5 * resNoon);
    const comNight = avgP('commercial', at(1), 3);
    const comDay = avgP('commercial', at(10), 6);
    expect(comDay).toBeGreaterThan(3 * comNight);
    expect(avgP('commercial', SAT + 10 * H, 6)).toBeLessThan(0.6 * comDay);
    // the shape itself, pure
    expect(loadShape('residential', 20, 3)).toBeGreaterThan(loadShape('residential', 3, 3));
  });

  it('voltage sags as load rises', () => {
    const m = createMeterModel({ profile: 'residential', seed: 5 });
    const night = m.sample(WED + 3 * H);
    const evening = m.sample(WED + 20 * H);
    expect(evening.p).toBeGreaterThan(night.p);
    expect(evening.ua).toBeLessThan(night.ua);
  });

  it('is deterministic: same seed, same instants, same values; another seed differs', () => {
    const a = createMeterModel({ profile: 'feeder', seed: 7 });
    const b = createMeterModel({ profile: 'feeder', seed: 7 });
    const c = createMeterModel({ profile: 'feeder', seed: 8 });
    for (const t of [WED, WED + 1000, WED + 9 * H]) {
      expect(a.sample(t)).toEqual(b.sample(t));
      expect(c.sample(t).ua).not.toBe(a.sample(t).ua);
    }
  });

  it('energy counters integrate power over time and never run backwards', () => {
    const m = createMeterModel({ profile: 'commercial', initialEnergyKwh: { imp: 1000, exp: 5 } });
    m.setOverride({ p: 60 });
    expect(m.sample(WED).ep_imp).toBe(1000);
    expect(m.sample(WED + H).ep_imp).toBeCloseTo(1060, 9);
    expect(m.sample(WED + H + 30 * 60_000).ep_imp).toBeCloseTo(1090, 9);
    // time going back (a replay rewound): counter holds
    expect(m.sample(WED).ep_imp).toBeCloseTo(1090, 9);
    m.clearOverride('p');
    // without an override, a day's energy is the integral of the curve: close to the mean of sampled power × 24 h
    const m2 = createMeterModel({ profile: 'residential', seed: 4, initialEnergyKwh: { imp: 0 } });
    m2.sample(WED);
    const kwh = m2.sample(WED + 24 * H).ep_imp;
    const mean = avgP('residential', WED, 24, 4);
    expect(kwh / (mean * 24)).toBeGreaterThan(0.97);
    expect(kwh / (mean * 24)).toBeLessThan(1.03);
    // export stays where it was while the meter only imports
    expect(m.sample(WED + 2 * H).ep_exp).toBe(5);
  });

  it('overrides are reported as-is until cleared, and checked', () => {
    const m = createMeterModel({ profile: 'residential' });
    m.setOverride({ ua: 231.4, ia: 105.25 });
    m.setOverride({ p: 71.2 });
    expect(m.sample(WED)).toMatchObject({ ua: 231.4, ia: 105.25, p: 71.2 });
    expect(m.overrides()).toEqual({ ua: 231.4, ia: 105.25, p: 71.2 });
    m.clearOverride('ua');
    expect(m.sample(WED).ua).not.toBe(231.4);
    m.clearOverride();
    expect(m.overrides()).toEqual({});
    expect(() => m.setOverride({ temp: 20 } as never)).toThrow(/not a quantity of the meter model/);
    expect(() => m.setOverride({ ua: Number.NaN })).toThrow(/finite/);
  });
});

describe('DTSU666 register image', () => {
  const values = () => {
    const m = createMeterModel({ profile: 'feeder' });
    m.setOverride({ ua: 231.4, ia: 105.25, p: 71.2, ep_imp: 12345.6, pf: 0.953, f: 49.99 });
    return m.sample(WED);
  };

  it('holds scaled integers as float32, high word first (golden words from Buffer.writeFloatBE)', () => {
    const r = readRegisters(dtsu666RegisterMap(), values(), 3, 0x2006, 2);
    expect(r).toEqual({ ok: true, words: [0x4510, 0xa000] }); // 2314.0
    const block = readRegisters(dtsu666RegisterMap(), values(), 3, 0x2000, 0x46);
    if (!block.ok) throw new Error('block read failed');
    expect(block.words.slice(0x0c, 0x0e)).toEqual([0x47cd, 0x9100]); // ia 105250.0
    expect(block.words.slice(0x12, 0x14)).toEqual([0x492d, 0xd400]); // p 712000.0 (W×10)
    const e = readRegisters(dtsu666RegisterMap(), values(), 3, 0x401e, 2);
    expect(e).toEqual({ ok: true, words: [0x4640, 0xe666] }); // 12345.6 kWh as is
  });

  it('puts import kWh where the firmware keeps it', () => {
    const alt = dtsu666RegisterMap({ importKwhAddress: 0x101e });
    expect(readRegisters(alt, values(), 3, 0x101e, 2)).toEqual({ ok: true, words: [0x4640, 0xe666] });
    expect(readRegisters(alt, values(), 3, 0x401e, 2)).toEqual({ ok: true, words: [0, 0] });
    expect(readRegisters(dtsu666RegisterMap(), values(), 3, 0x101e, 2)).toEqual({ ok: false, exception: 2 });
  });

  it('answers exception 02 outside its blocks, 03 for a bad count, nothing on FC 04', () => {
    const map = dtsu666RegisterMap();
    expect(readRegisters(map, values(), 3, 0x3000, 2)).toEqual({ ok: false, exception: 2 });
    expect(readRegisters(map, values(), 3, 0x2040, 10)).toEqual({ ok: false, exception: 2 }); // runs past 0x2045
    expect(readRegisters(map, values(), 3, 0x2000, 126)).toEqual({ ok: false, exception: 3 });
    expect(readRegisters(map, values(), 4, 0x2000, 2)).toEqual({ ok: false, exception: 2 });
  });

  it('encodes other types and word orders (for the meters to come)', () => {
    expect(encodeValue(-123456, 'int32', 'ABCD')).toEqual([0xfffe, 0x1dc0]);
    expect(encodeValue(-123456, 'int32', 'CDAB')).toEqual([0x1dc0, 0xfffe]);
    expect(encodeValue(2314, 'float32', 'CDAB')).toEqual([0xa000, 0x4510]);
    expect(encodeValue(-123, 'int16', 'ABCD')).toEqual([0xff85]);
    expect(encodeValue(70000, 'uint16', 'ABCD')).toEqual([0xffff]); // saturates
  });
});
