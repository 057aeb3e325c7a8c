/**
 * DL/T 645-2007 codec against frames computed by hand from the standard:
 * one reply per identifier the agent knows, requests, continuation,
 * address read, abnormal reply and broadcast time sync. Worked example
 * (phase A voltage 231.5 V from meter 000012345678):
 *
 *   68 | 78 56 34 12 00 00 | 68 | 91 | 06 | 33 34 34 35 | 48 56 | E9 | 16
 *        A0 … A5 (low byte first)  C    L    DI0..DI3 +33  15 23 +33  CS
 *
 *   DI 02 01 01 00 is sent 00 01 01 02, +33H each: 33 34 34 35. 231.5 V is
 *   XXX.X, BCD 2315, low byte first 15 23, +33H: 48 56. CS = 68+78+56+34+12
 *   +00+00+68+91+06+33+34+34+35+48+56 = 0x3E9 → E9.
 */
import { describe, expect, it } from 'vitest';
import {
  addressBytes,
  addressString,
  BUILTIN_DLT645_PROFILES,
  controlBits,
  decodeBcd,
  decodeErrorByte,
  decodeRead,
  Dlt645Decoder,
  encodeBcd,
  encodeFrame,
  ERROR_BITS,
  identifierString,
  KNOWN_IDENTIFIERS,
  knownIdentifier,
  loadDlt645Profile,
  readAddressRequest,
  readNextRequest,
  readRequest,
  timeSyncRequest,
  type Dlt645Frame,
} from '../../edge-agent/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const METER = '000012345678';

function decodeOne(bytes: Buffer): Dlt645Frame {
  const ev = new Dlt645Decoder().push(bytes);
  expect(ev).toHaveLength(1);
  expect(ev[0]!.kind).toBe('frame');
  return (ev[0] as { frame: Dlt645Frame }).frame;
}

/** [identifier, values, the 91H reply from 000012345678] */
const GOLDEN: ReadonlyArray<[string, number[], string]> = [
  ['02010100', [231.5], '68 78 56 34 12 00 00 68 91 06 33 34 34 35 48 56 E9 16'],
  ['02010200', [229.8], '68 78 56 34 12 00 00 68 91 06 33 35 34 35 CB 55 6C 16'],
  ['02010300', [230.0], '68 78 56 34 12 00 00 68 91 06 33 36 34 35 33 56 D6 16'],
  ['0201FF00', [231.5, 229.8, 230.0], '68 78 56 34 12 00 00 68 91 0A 33 32 34 35 48 56 CB 55 33 56 94 16'],
  ['02020100', [12.345], '68 78 56 34 12 00 00 68 91 07 33 34 35 35 78 56 34 4F 16'],
  ['02020200', [-5.5], '68 78 56 34 12 00 00 68 91 07 33 35 35 35 33 88 B3 BC 16'],
  ['02020300', [799.999], '68 78 56 34 12 00 00 68 91 07 33 36 35 35 CC CC AC 93 16'],
  ['0202FF00', [12.345, -5.5, 799.999], '68 78 56 34 12 00 00 68 91 0D 33 32 35 35 78 56 34 33 88 B3 CC CC AC 05 16'],
  ['02030000', [-1.2345], '68 78 56 34 12 00 00 68 91 07 33 33 36 35 78 56 B4 CF 16'],
  ['02030100', [0.4115], '68 78 56 34 12 00 00 68 91 07 33 34 36 35 48 74 33 3D 16'],
  ['02030200', [79.9999], '68 78 56 34 12 00 00 68 91 07 33 35 36 35 CC CC AC 93 16'],
  ['02030300', [0], '68 78 56 34 12 00 00 68 91 07 33 36 36 35 33 33 33 E9 16'],
  ['0203FF00', [-1.2345, 0.4115, 79.9999, 0], '68 78 56 34 12 00 00 68 91 10 33 32 36 35 78 56 B4 48 74 33 CC CC AC 33 33 33 A3 16'],
  ['02040000', [3.5], '68 78 56 34 12 00 00 68 91 07 33 33 37 35 33 83 36 3A 16'],
  ['02040100', [-0.0101], '68 78 56 34 12 00 00 68 91 07 33 34 37 35 34 34 B3 6A 16'],
  ['02040200', [1.0], '68 78 56 34 12 00 00 68 91 07 33 35 37 35 33 33 34 EA 16'],
  ['02040300', [2.0], '68 78 56 34 12 00 00 68 91 07 33 36 37 35 33 33 35 EC 16'],
  ['02050000', [12.3456], '68 78 56 34 12 00 00 68 91 07 33 33 38 35 89 67 45 84 16'],
  ['02060000', [0.987], '68 78 56 34 12 00 00 68 91 06 33 33 39 35 BA 3C 45 16'],
  ['02060100', [-0.5], '68 78 56 34 12 00 00 68 91 06 33 34 39 35 33 B8 3B 16'],
  ['02060200', [1.0], '68 78 56 34 12 00 00 68 91 06 33 35 39 35 33 43 C7 16'],
  ['02060300', [0.001], '68 78 56 34 12 00 00 68 91 06 33 36 39 35 34 33 B9 16'],
  ['02800001', [1.5], '68 78 56 34 12 00 00 68 91 07 34 33 B3 35 33 48 33 79 16'],
  ['02800002', [50.01], '68 78 56 34 12 00 00 68 91 06 35 33 B3 35 34 83 82 16'],
  ['00010000', [123456.78], '68 78 56 34 12 00 00 68 91 08 33 33 34 33 AB 89 67 45 2A 16'],
  ['00020000', [0.01], '68 78 56 34 12 00 00 68 91 08 33 33 35 33 34 33 33 33 18 16'],
];

describe('golden frames: one reply per known identifier', () => {
  it('covers every identifier in the table', () => {
    expect(GOLDEN.map((g) => g[0]).sort()).toEqual(KNOWN_IDENTIFIERS.map((k) => k.di).sort());
  });

  it.each(GOLDEN)('%s → %j', (di, values, wire) => {
    const f = decodeOne(hex(wire));
    expect(f.address).toBe(METER);
    expect(controlBits(f.control)).toEqual({ reply: true, abnormal: false, followUp: false, fn: 0x11 });
    expect(identifierString(f.data)).toBe(di);
    const k = knownIdentifier(di)!;
    const got = values.map((_, i) => {
      const r = decodeBcd(f.data, 4 + i * k.format.bytes, k.format);
      if (!r.ok) throw new Error(r.reason);
      return r.value;
    });
    // exact: the decimal the meter meant, not a float near it
    expect(got).toEqual(values);
    expect(f.data.length).toBe(4 + values.length * k.format.bytes);
    // and back: the same bytes
    expect(encodeFrame(f).toString('hex').toUpperCase()).toBe(wire.replace(/ /g, ''));
    const data = Uint8Array.from([...f.data.subarray(0, 4), ...values.flatMap((v) => [...encodeBcd(v, k.format)])]);
    expect(encodeFrame({ address: METER, control: 0x91, data }).equals(hex(wire))).toBe(true);
  });
});

describe('requests and the other frames', () => {
  it('read request with the 4-byte wake-up preamble, and without', () => {
    expect(encodeFrame(readRequest(METER, '02010100'), 4).equals(hex('FE FE FE FE 68 78 56 34 12 00 00 68 11 04 33 34 34 35 C9 16'))).toBe(true);
    expect(encodeFrame(readRequest(METER, '02010100')).equals(hex('68 78 56 34 12 00 00 68 11 04 33 34 34 35 C9 16'))).toBe(true);
    expect(() => encodeFrame(readRequest(METER, '02010100'), 5)).toThrow(/preamble/);
  });

  it('read subsequent frame (12H) carries the identifier and the frame number', () => {
    expect(encodeFrame(readNextRequest(METER, '0201FF00', 1)).equals(hex('68 78 56 34 12 00 00 68 12 05 33 32 34 35 34 FD 16'))).toBe(true);
  });

  it('a reply with follow-up frames (B1H) sets the follow-up bit', () => {
    const f = decodeOne(hex('68 78 56 34 12 00 00 68 B1 06 33 32 34 35 48 56 07 16'));
    expect(controlBits(f.control)).toEqual({ reply: true, abnormal: false, followUp: true, fn: 0x11 });
  });

  it('read address: 13H to AA×6, and the 93H reply carries the address', () => {
    expect(encodeFrame(readAddressRequest()).equals(hex('68 AA AA AA AA AA AA 68 13 00 DF 16'))).toBe(true);
    const f = decodeOne(hex('68 78 56 34 12 00 00 68 93 06 AB 89 67 45 33 33 C3 16'));
    expect(f.control).toBe(0x93);
    expect(addressString(f.data)).toBe(METER);
  });

  it('abnormal reply D1H with its error byte decoded', () => {
    const f = decodeOne(hex('68 78 56 34 12 00 00 68 D1 01 35 EB 16'));
    expect(controlBits(f.control)).toMatchObject({ reply: true, abnormal: true, fn: 0x11 });
    expect(decodeErrorByte(f.data[0]!)).toEqual({ names: ['no_data'], text: 'no data requested (the meter does not have this identifier) (ERR 0x02)' });
  });

  it('every error bit has its name; several at once are all reported', () => {
    expect(ERROR_BITS.map(([bit, name]) => [bit, decodeErrorByte(bit).names])).toEqual(ERROR_BITS.map(([bit, name]) => [bit, [name]]));
    expect(ERROR_BITS.map(([, name]) => name)).toEqual(['other_error', 'no_data', 'unauthorized', 'baud_fixed', 'year_zones_exceeded', 'day_periods_exceeded', 'tariffs_exceeded']);
    expect(decodeErrorByte(0x45).names).toEqual(['other_error', 'unauthorized', 'tariffs_exceeded']);
    expect(decodeErrorByte(0x80).text).toMatch(/reserved bit 7/);
    expect(decodeErrorByte(0).text).toMatch(/no error bit set/);
  });

  it('broadcast time sync: 08H to 99×6, ss mm hh DD MM YY', () => {
    const f = timeSyncRequest({ year: 2026, month: 12, day: 6, hour: 12, minute: 34, second: 56 });
    expect(encodeFrame(f).equals(hex('68 99 99 99 99 99 99 68 08 06 89 67 45 39 45 59 80 16'))).toBe(true);
  });

  it('addresses: 12 digits, A0 first on the wire; AA wildcards; anything else refused', () => {
    expect([...addressBytes('000012345678')]).toEqual([0x78, 0x56, 0x34, 0x12, 0, 0]);
    expect([...addressBytes('AAAAAA345678')]).toEqual([0x78, 0x56, 0x34, 0xaa, 0xaa, 0xaa]);
    expect(() => addressBytes('12345')).toThrow(/12 digits/);
    expect(() => addressBytes('00001234567A')).toThrow(/12 digits/);
  });
});

describe('BCD', () => {
  it('a nibble above 9 is a reject with its reason, never a number', () => {
    const r = decodeBcd(Uint8Array.from([0x1a, 0x23]), 0, { bytes: 2, decimals: 1, signed: false });
    expect(r).toEqual({ ok: false, reason: 'not BCD: byte 0 is 0x1A (value bytes, most significant first: 23 1A)' });
    expect(decodeBcd(Uint8Array.from([0xff, 0xff, 0xff]), 0, { bytes: 3, decimals: 3, signed: true }).ok).toBe(false);
    // the sign bit is not a digit: 0x80 | 0x79 is −79…, 0xF9 with the sign taken off is 0x79
    expect(decodeBcd(Uint8Array.from([0x99, 0x99, 0xf9]), 0, { bytes: 3, decimals: 4, signed: true })).toEqual({ ok: true, value: -79.9999 });
    // unsigned: the top bit is a digit, and 0x80 is BCD 80
    expect(decodeBcd(Uint8Array.from([0x00, 0x80]), 0, { bytes: 2, decimals: 1, signed: false })).toEqual({ ok: true, value: 800 });
    expect(decodeBcd(Uint8Array.from([0x00]), 0, { bytes: 2, decimals: 1, signed: false }).ok).toBe(false);
  });

  it('−0 is 0', () => {
    expect(decodeBcd(Uint8Array.from([0, 0, 0x80]), 0, { bytes: 3, decimals: 3, signed: true })).toEqual({ ok: true, value: 0 });
  });

  it('round trip over every 2-byte value, and a sweep of 4-byte ones', () => {
    const f2 = { bytes: 2, decimals: 1, signed: false };
    for (let n = 0; n <= 9999; n++) {
      const v = n / 10;
      const r = decodeBcd(encodeBcd(v, f2), 0, f2);
      if (!r.ok || r.value !== v) throw new Error(`${v} → ${JSON.stringify(r)}`);
    }
    const f4 = { bytes: 4, decimals: 2, signed: false };
    for (let n = 0; n <= 99_999_999; n += 9973) {
      const v = n / 100;
      const r = decodeBcd(encodeBcd(v, f4), 0, f4);
      if (!r.ok || r.value !== v) throw new Error(`${v} → ${JSON.stringify(r)}`);
    }
    expect(() => encodeBcd(80, { bytes: 3, decimals: 4, signed: true })).toThrow(/does not fit/);
    expect(() => encodeBcd(-1, { bytes: 2, decimals: 1, signed: false })).toThrow(/no sign/);
  });
});

describe('profiles as data', () => {
  it('the built-in three-phase profile decodes a block into canonical quantities, currents as magnitudes', () => {
    const p = BUILTIN_DLT645_PROFILES.get('dlt645-3p')!;
    const cur = p.reads.find((r) => r.di === '0202FF00')!;
    const r = decodeRead(cur, Uint8Array.from([0x45, 0x23, 0x01, 0x00, 0x55, 0x80, 0x99, 0x99, 0x79]));
    expect(r).toEqual({
      ok: true,
      elements: [
        { ok: true, quantity: 'ia', value: 12.345 },
        { ok: true, quantity: 'ib', value: 5.5 },
        { ok: true, quantity: 'ic', value: 799.999 },
      ],
    });
    expect(decodeRead(cur, Uint8Array.from([1, 2, 3]))).toEqual({ ok: false, reason: 'identifier 0202FF00: 3 value bytes, the profile expects 9' });
    const bad = decodeRead(cur, Uint8Array.from([0x45, 0x23, 0x01, 0xaa, 0x55, 0x80, 0x99, 0x99, 0x79]));
    expect(bad.ok && bad.elements[1]).toMatchObject({ ok: false, kind: 'not_bcd', quantity: 'ib' });
    expect(p.reads.map((x) => x.quantities).flat().sort()).toEqual(['ep_exp', 'ep_imp', 'f', 'ia', 'ib', 'ic', 'p', 'pa', 'pb', 'pc', 'pf', 'q', 'ua', 'ub', 'uc']);
  });

  it('a vendor identifier needs its format; a known one with the wrong element count, a quantity twice, all reported at once', () => {
    let issues: readonly string[] = [];
    try {
      loadDlt645Profile({
        id: 'x',
        reads: [
          { di: '04000101', quantities: ['ua'] },
          { di: '0201FF00', quantities: ['ua', 'ub'] },
          { di: '02800002', quantities: ['f'], bytes: 2, decimals: 2, signed: false },
          { di: '02800003', quantities: ['f'], bytes: 2, decimals: 2, signed: false },
          { di: 'zz', quantities: ['nope'] },
        ],
      });
    } catch (err) {
      issues = (err as { issues: string[] }).issues;
    }
    expect(issues).toEqual([
      'reads[4].di: must be 8 hex digits (DI3 DI2 DI1 DI0), e.g. "02010100"',
      'reads[4].quantities[0]: "nope" is not a canonical quantity an agent may send',
    ]);
    try {
      loadDlt645Profile({
        id: 'x',
        reads: [
          { di: '04000101', quantities: ['ua'] },
          { di: '0201FF00', quantities: ['ua', 'ub'] },
          { di: '02800002', quantities: ['f'] },
          { di: '02800003', quantities: ['f'], bytes: 2, decimals: 2, signed: false },
        ],
      });
    } catch (err) {
      issues = (err as { issues: string[] }).issues;
    }
    expect(issues).toEqual([
      'reads[0]: identifier 04000101 is not in the standard\'s table this agent knows; give bytes, decimals and signed',
      'reads[1].quantities: identifier 0201FF00 (voltage block (A, B, C)) has 3 elements, got 2',
      'reads[3].quantities[0]: "f" is already read by reads[2]',
    ]);
  });
});
