import { describe, expect, it } from 'vitest';
import {
  LIMITS, MEASURED_QUANTITIES, QUANTITIES, parseCallTopic, parseReadingsPayload, parseReadingsTopic, readingsTopic, spoolDeviceId, validateReadingsMessage,
} from '../../contract/index.ts';

const TS = Date.UTC(2026, 10, 22, 8, 0, 0);
const ok = { agent: 'room-1', readings: [{ device: 'm1', ts: TS, seq: 0, v: { ua: 230.2, p: -3.5, pf: -0.9 }, q: 'good' }] };

describe('topics', () => {
  it('builds and parses the readings topic', () => {
    expect(readingsTopic('s1', 'room-1')).toBe('gridwatch/v1/s1/room-1/readings');
    expect(parseReadingsTopic('gridwatch/v1/s1/room-1/readings')).toEqual({ site: 's1', agent: 'room-1' });
  });
  it.each(['gridwatch/v1/s1/readings', 'gridwatch/v2/s1/a/readings', 'gridwatch/v1/s+/a/readings', 'gridwatch/v1/agent/a/readings', 'gridwatch/v1/s1/a/readings/x', ''])(
    'refuses %j',
    (t) => expect(parseReadingsTopic(t)).toBeNull(),
  );
  it('parses the one-key call topic', () => {
    expect(parseCallTopic('gridwatch/v1/s1/call')).toEqual({ site: 's1' });
    expect(parseCallTopic('gridwatch/v1/agent/call')).toBeNull();
  });
});

describe('readings validator', () => {
  it('accepts a well-formed message', () => {
    const r = validateReadingsMessage(ok, 'room-1');
    expect(r.ok && r.value.readings).toEqual(ok.readings);
  });

  it('keeps late only when true and accepts comm_loss without values', () => {
    const r = validateReadingsMessage({ agent: 'a', readings: [{ device: 'd', ts: TS, seq: 1, v: {}, q: 'comm_loss', late: true }] });
    expect(r.ok && r.value.readings[0]).toEqual({ device: 'd', ts: TS, seq: 1, v: {}, q: 'comm_loss', late: true });
  });

  it('reports every error of a reading with its path', () => {
    const r = validateReadingsMessage({ agent: 'a', readings: [{ device: '', ts: 1.5, seq: -1, v: { ua: 'x', zz: 1, f: 1e6 }, q: 'meh', extra: 1 }] });
    expect(r.ok).toBe(true);
    const paths = r.ok ? r.value.rejected.map((e) => `${e.path}:${e.reason}`) : [];
    expect(paths).toEqual(
      expect.arrayContaining([
        'readings[0].extra:unknown_key', 'readings[0].device:wrong_type', 'readings[0].ts:wrong_type', 'readings[0].seq:wrong_type',
        'readings[0].q:wrong_type', 'readings[0].v.ua:wrong_type', 'readings[0].v.zz:unknown_quantity', 'readings[0].v.f:out_of_range',
      ]),
    );
  });

  it('rejects a comm_loss reading that carries values (a dead meter is not a number)', () => {
    const r = validateReadingsMessage({ agent: 'a', readings: [{ device: 'd', ts: TS, seq: 1, v: { ua: 0 }, q: 'comm_loss' }] });
    expect(r.ok && r.value.readings).toEqual([]);
  });

  it('rejects too many readings in one message', () => {
    const readings = Array.from({ length: LIMITS.maxReadingsPerMessage + 1 }, (_, i) => ({ device: 'd', ts: TS, seq: i, v: {}, q: 'good' }));
    const r = validateReadingsMessage({ agent: 'a', readings });
    expect(!r.ok && r.errors[0]!.reason).toBe('too_many');
  });

  it('lost_readings is a whole count ≥ 0 (the spool pseudo-device reports it)', () => {
    const m = (v: unknown) => validateReadingsMessage({ agent: 'a', readings: [{ device: spoolDeviceId('a'), ts: TS, seq: 1, v: { lost_readings: v }, q: 'good' }] });
    expect(spoolDeviceId('a')).toBe('a.spool');
    expect(QUANTITIES.lost_readings).toMatchObject({ min: 0, integer: true });
    expect(QUANTITIES.lost_readings.description).toMatch(/quota/);
    const good = m(1234);
    expect(good.ok && good.value.readings[0]!.v).toEqual({ lost_readings: 1234 });
    for (const [bad, reason] of [[1.5, 'wrong_type'], [-1, 'out_of_range'], ['3', 'wrong_type'], [Number.MAX_SAFE_INTEGER + 2, 'out_of_range']] as const) {
      const r = m(bad);
      expect(r.ok && r.value.readings, String(bad)).toEqual([]);
      expect(r.ok && r.value.rejected[0]!.reason, String(bad)).toBe(reason);
      // the seq of a rejected reading is still known: handled, not stored
      expect(r.ok && r.value.rejectedSeqs, String(bad)).toEqual([1]);
    }
  });

  it('the envelope may say where the agent spool starts (from) and its next seq (next)', () => {
    const r = validateReadingsMessage({ ...ok, from: 0, next: 5 });
    expect(r.ok && [r.value.from, r.value.next]).toEqual([0, 5]);
    const plain = validateReadingsMessage(ok);
    expect(plain.ok && 'from' in plain.value).toBe(false);
    const skipped = validateReadingsMessage({ ...ok, skip: [[3, 4], [7, 7]] });
    expect(skipped.ok && skipped.value.skip).toEqual([[3, 4], [7, 7]]);
    for (const bad of [{ from: -1 }, { from: 1.5 }, { next: '7' }, { from: 9, next: 5 }, { skip: [[4, 3]] }, { skip: [[1]] }, { skip: 'x' }, { skip: [[0, 1.5]] }]) {
      const x = validateReadingsMessage({ ...ok, ...bad });
      expect(x.ok, JSON.stringify(bad)).toBe(false);
    }
  });

  it('never throws on hostile payloads', () => {
    const hostile = ['', 'null', '"str"', '{"__proto__":{"x":1}}', '{"agent":"a","readings":[null,1,"x",[]]}', '{"agent":"a","readings":{"length":5}}', '\u0000\u0001', '{'.repeat(10000)];
    for (const h of hostile) expect(() => parseReadingsPayload(h)).not.toThrow();
    const r = parseReadingsPayload('{"agent":"a","readings":[null,1,"x",[]]}');
    expect(r.ok && r.value.rejected.map((e) => e.reason)).toEqual(['wrong_type', 'wrong_type', 'wrong_type', 'wrong_type']);
    const proto = parseReadingsPayload('{"agent":"a","readings":[{"device":"d","ts":' + TS + ',"seq":1,"v":{"__proto__":{"ua":1}},"q":"good"}]}');
    expect(proto.ok && proto.value.rejected.map((e) => e.reason)).toEqual(['unknown_quantity']);
    expect(({} as Record<string, unknown>).ua).toBeUndefined();
  });

  it('bounds every measured quantity', () => {
    for (const q of MEASURED_QUANTITIES) {
      const spec = QUANTITIES[q];
      expect(spec.min).toBeLessThan(spec.max);
    }
  });
});
