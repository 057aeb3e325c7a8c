/**
 * One contract suite for every TelemetryStore implementation
 * (docs/conventions.md, ports with one contract suite). Each implementation's test file calls
 * `storeContract(name, makeStore)` with a fresh, empty store per test.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredReading, TelemetryStore } from '../../server/index.ts';

const T0 = Date.UTC(2026, 10, 1, 0, 0, 0);

function reading(over: Partial<StoredReading> = {}): StoredReading {
  return {
    site: 's1', room: 'r1', transformer: 't1', line: 'l1', device: 'm1',
    ts: T0, q: 'good', late: false, v: { ua: 230.1, ia: 12.5, p: 7.25, q: 1.5, in: 0.25 },
    ...over,
  };
}

export function storeContract(name: string, makeStore: () => Promise<TelemetryStore>): void {
  describe(`TelemetryStore contract: ${name}`, () => {
    let store: TelemetryStore;
    beforeEach(async () => {
      store = await makeStore();
      await store.start();
    });
    afterEach(async () => {
      await store.stop();
    });

    it('answers ping', async () => {
      expect(await store.ping()).toBe(true);
    });

    it('stores a reading and returns it as the latest of its device, with tags, quality and ms timestamp', async () => {
      await store.write([reading({ ts: T0 + 1 }), reading({ ts: T0 + 1001, v: { ua: 231.7 } }), reading({ device: 'm2', line: 'l2', ts: T0 + 5 })]);
      const latest = await store.latest();
      expect(latest.map((r) => r.device).sort()).toEqual(['m1', 'm2']);
      const m1 = latest.find((r) => r.device === 'm1')!;
      expect(m1).toMatchObject({ site: 's1', room: 'r1', transformer: 't1', line: 'l1', ts: T0 + 1001, q: 'good', late: false });
      expect(m1.v.ua).toBeCloseTo(231.7, 6);
      expect(await store.latest(['m2'])).toHaveLength(1);
      expect(await store.latest(['nope'])).toEqual([]);
    });

    it('stores readings held in its own encoding (encode → writeEncoded) exactly as write would', async () => {
      if (!store.encode || !store.writeEncoded) return expect(store.writeEncoded).toBeUndefined();
      const rs = [reading({ ts: T0 + 1, v: { ua: 229.5, ia: 12.25 } }), reading({ device: 'a b,c=d', line: 'l2', ts: T0 + 2, q: 'comm_loss', late: true, v: {} })];
      // in chunks of several readings, as the ingest holds a message's readings
      await store.writeEncoded([store.encode(rs.slice(0, 1)), store.encode([]), store.encode(rs.slice(1))]);
      await store.writeEncoded([]);
      const latest = await store.latest();
      expect(latest.find((r) => r.device === 'm1')).toMatchObject({ ts: T0 + 1, q: 'good', late: false, v: { ua: 229.5, ia: 12.25 } });
      expect(latest.find((r) => r.device === 'a b,c=d')).toMatchObject({ line: 'l2', ts: T0 + 2, q: 'comm_loss', late: true, v: {} });
    });

    it('overwrites the same point (device, ts) instead of duplicating, keeping quantities not resent', async () => {
      await store.write([reading({ v: { ua: 230, ia: 10 } })]);
      await store.write([reading({ v: { ua: 240 } })]);
      const h = await store.history({ devices: ['m1'], quantities: ['ua', 'ia'], from: T0 - 1, to: T0 + 1 });
      const ua = h.find((s) => s.quantity === 'ua')!;
      const ia = h.find((s) => s.quantity === 'ia')!;
      expect(ua.ts).toEqual([T0]);
      expect(ua.values).toEqual([240]);
      expect(ia.values).toEqual([10]);
    });

    it('returns raw history in time order inside [from, to)', async () => {
      const rs = Array.from({ length: 10 }, (_, i) => reading({ ts: T0 + i * 1000, v: { ua: 220 + i } }));
      await store.write(rs);
      const [s] = await store.history({ devices: ['m1'], quantities: ['ua'], from: T0 + 2000, to: T0 + 5000 });
      expect(s!.ts).toEqual([T0 + 2000, T0 + 3000, T0 + 4000]);
      expect(s!.values).toEqual([222, 223, 224]);
    });

    it('aggregates history into time buckets with mean, min and max', async () => {
      const rs = Array.from({ length: 120 }, (_, i) => reading({ ts: T0 + i * 1000, v: { ia: i } }));
      await store.write(rs);
      const q = { devices: ['m1'], quantities: ['ia' as const], from: T0, to: T0 + 120_000, stepMs: 60_000 };
      const [mean] = await store.history({ ...q, aggregate: 'mean' });
      const [min] = await store.history({ ...q, aggregate: 'min' });
      const [max] = await store.history({ ...q, aggregate: 'max' });
      expect(mean!.ts).toEqual([T0, T0 + 60_000]);
      expect(mean!.values).toEqual([29.5, 89.5]);
      expect(min!.values).toEqual([0, 60]);
      expect(max!.values).toEqual([59, 119]);
    });

    it('starts day buckets at local midnight when given the zone offset (China Standard Time, +08:00)', async () => {
      const H = 3_600_000;
      // 2026-11-01 15:00Z and 17:00Z are 23:00 on the 1st and 01:00 on the 2nd in Beijing
      const a = Date.UTC(2026, 10, 1, 15);
      const b = Date.UTC(2026, 10, 1, 17);
      await store.write([reading({ ts: a, v: { ep_imp: 10 } }), reading({ ts: b, v: { ep_imp: 20 } })]);
      const q = { devices: ['m1'], quantities: ['ep_imp' as const], from: a - 48 * H, to: b + 48 * H, stepMs: 24 * H, aggregate: 'max' as const };
      const [utc] = await store.history(q);
      expect(utc!.values).toEqual([20]); // both in the UTC day of Nov 1
      expect(utc!.ts).toEqual([Date.UTC(2026, 10, 1)]);
      const [cst] = await store.history({ ...q, utcOffsetMs: 8 * H });
      expect(cst!.values).toEqual([10, 20]); // two Beijing days
      expect(cst!.ts).toEqual([Date.UTC(2026, 10, 1) - 8 * H, Date.UTC(2026, 10, 1) + 16 * H]); // Beijing midnights
    });

    it('answers a year-long range with daily buckets over sparse data', async () => {
      const D = 86_400_000;
      const y0 = Date.UTC(2025, 0, 1);
      const rs = Array.from({ length: 365 }, (_, d) => [0, 1, 2].map((k) => reading({ ts: y0 + d * D + k * 3_600_000, v: { p: d + k } }))).flat();
      await store.write(rs);
      const [s] = await store.history({ devices: ['m1'], quantities: ['p'], from: y0, to: y0 + 365 * D, stepMs: D, aggregate: 'mean' });
      expect(s!.ts).toHaveLength(365);
      expect(s!.values[0]).toBe(1);
      expect(s!.values[364]).toBe(365);
    });

    it('answers an empty range and unknown devices with no series', async () => {
      await store.write([reading()]);
      expect(await store.history({ devices: ['m1'], quantities: ['ua'], from: T0 + 10, to: T0 + 20 })).toEqual([]);
      expect(await store.history({ devices: ['ghost'], quantities: ['ua'], from: T0 - 10, to: T0 + 20 })).toEqual([]);
    });

    it('keeps comm_loss readings without values and the late flag', async () => {
      await store.write([reading({ ts: T0 + 1, q: 'comm_loss', v: {} }), reading({ device: 'm2', ts: T0, late: true })]);
      const latest = await store.latest();
      expect(latest.find((r) => r.device === 'm1')).toMatchObject({ q: 'comm_loss', v: {}, ts: T0 + 1 });
      expect(latest.find((r) => r.device === 'm2')).toMatchObject({ late: true });
    });

    it('stores the count of readings an agent lost to its spool quota (lost_readings) exactly', async () => {
      const big = 2 ** 40 + 7;
      await store.write([reading({ device: 'a1.spool', ts: T0, v: { lost_readings: 0 } }), reading({ device: 'a1.spool', ts: T0 + 1, v: { lost_readings: big } })]);
      const [r] = await store.latest(['a1.spool']);
      expect(r).toMatchObject({ ts: T0 + 1, q: 'good', v: { lost_readings: big } });
      const [s] = await store.history({ devices: ['a1.spool'], quantities: ['lost_readings'], from: T0, to: T0 + 2 });
      expect(s!.values).toEqual([0, big]);
    });

    it.each([
      ['commas, equals, spaces and quotes', `meter, 1=A "x" 'y'`],
      ['a newline, a tab and a carriage return', 'line 1\nline\t2\r'],
      ['a trailing backslash', 'C:\\meters\\'],
      ['percent signs that look encoded', '100%25 %0A real'],
      ['non-ASCII', '1#配变 出线①'],
    ])('stores tag values with %s exactly as sent', async (_what, device) => {
      await store.write([reading({ device, room: 'room =2, west', ts: T0 })]);
      const [r] = await store.latest([device]);
      expect(r).toMatchObject({ device, room: 'room =2, west' });
      const [s] = await store.history({ devices: [device], quantities: ['ua'], from: T0, to: T0 + 1 });
      expect(s!.device).toBe(device);
    });

    it('writes and reads back a batch of 20,000 readings', async () => {
      const rs = Array.from({ length: 20_000 }, (_, i) => reading({ device: `m${i % 50}`, ts: T0 + Math.floor(i / 50) * 1000, v: { ua: 220 + (i % 7), ia: i % 100 } }));
      await store.write(rs);
      const h = await store.history({ devices: ['m7'], quantities: ['ua'], from: T0, to: T0 + 400_000 });
      expect(h[0]!.ts).toHaveLength(400);
      expect(await store.latest()).toHaveLength(50);
    });
  });
}
