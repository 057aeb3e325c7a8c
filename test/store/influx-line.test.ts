import { Point } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeTagValue, encodeLines, encodeTagValue, toLine } from '../../server/store/influx.ts';
import type { StoredReading } from '../../server/index.ts';

const r: StoredReading = { site: 'cd east', room: 'r=1', transformer: 't,1', line: 'l1', device: 'm 1', ts: 1_767_225_600_123, q: 'good', late: true, v: { ua: 230.1, ia: 12, p: -3.25, pf: 0.98 } };

describe('line protocol', () => {
  it("matches the client's Point for ordinary input", () => {
    const p = new Point('reading').timestamp(r.ts);
    for (const t of ['site', 'room', 'transformer', 'line', 'device'] as const) p.tag(t, r[t]);
    for (const [k, v] of Object.entries(r.v)) p.floatField(k, v!);
    p.stringField('quality', r.q).booleanField('late', true);
    const sortFields = (line: string) => {
      const [head, fields, ts] = line.split(/(?<!\\) /);
      return `${head} ${fields!.split(',').sort().join(',')} ${ts}`;
    };
    expect(sortFields(toLine(r))).toBe(sortFields(p.toLineProtocol()!));
  });

  it('percent-encodes what line protocol cannot carry, and decodes it back', () => {
    for (const v of ['a\nb', 'tab\there', 'x\\', '%', '100%25', 'plain', '配变']) expect(decodeTagValue(encodeTagValue(v))).toBe(v);
    expect(encodeTagValue('plain-id_1.2')).toBe('plain-id_1.2');
    expect(toLine({ ...r, device: 'a\nb\\' })).toContain('device=a%0Ab%5C');
  });

  it('omits empty tags and writes comm_loss readings with only their quality', () => {
    expect(toLine({ ...r, room: '', transformer: '', line: '', late: false, q: 'comm_loss', v: {} })).toBe('reading,device=m\\ 1,site=cd\\ east quality="comm_loss" 1767225600123');
  });

  it('writes the tags of where the device is now when the topology moves it', () => {
    const a = toLine({ ...r, device: 'moving', line: 'l1' });
    const b = toLine({ ...r, device: 'moving', line: 'l2' });
    expect(a).toContain(',line=l1,');
    expect(b).toContain(',line=l2,');
    expect(toLine({ ...r, device: 'moving', line: '' })).not.toContain(',line=');
    expect(toLine({ ...r, device: 'moving', site: 'west' })).toContain(',site=west');
  });

  it('encodes readings to the same bytes as building each line as a string would, for any values and tags', () => {
    // the straightforward string form, as the encoder was before it wrote bytes
    const esc = (v: string) => {
      const e = encodeTagValue(v);
      return e.replace(/[,= ]/g, '\\$&');
    };
    const reference = (x: StoredReading) => {
      let key = 'reading';
      for (const t of ['device', 'line', 'room', 'site', 'transformer'] as const) if (x[t] !== '') key += `,${t}=${esc(x[t])}`;
      let fields = '';
      for (const [k, v] of Object.entries(x.v)) if (v !== undefined) fields += `${k}=${v},`;
      if (x.late) fields += 'late=T,';
      return `${key} ${fields}quality="${x.q}" ${x.ts}`;
    };
    const tag = fc.oneof(fc.constantFrom('', 'm1', '配变 1#', 'a,b=c d', 'x\\', 'new\nline', '%25'), fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
    const num = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constantFrom(0, -0, 1e-7, 123456789.125, 2 ** 53 - 1, 2 ** 53 + 2, -1e21, 5e-324, -Number.MAX_VALUE, NaN, Infinity));
    const reading = fc.record({
      site: tag,
      room: tag,
      transformer: tag,
      line: tag,
      device: tag,
      ts: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.constantFrom(0, 9, 10, 1_767_225_600_000)),
      q: fc.constantFrom('good', 'questionable', 'comm_loss') as fc.Arbitrary<StoredReading['q']>,
      late: fc.boolean(),
      v: fc.dictionary(fc.constantFrom('ua', 'ub', 'uc', 'ia', 'p', 'q', 'pf', 'f', 'load_rate', 'u_unb'), num, { maxKeys: 10 }),
    });
    fc.assert(
      fc.property(fc.array(reading, { maxLength: 8 }), (rs) => {
        expect(encodeLines(rs).toString('utf8')).toBe(rs.map(reference).join('\n'));
        if (rs[0]) expect(toLine(rs[0])).toBe(reference(rs[0]));
      }),
      { numRuns: 500 },
    );
  });

  it('encodes a batch larger than its scratch buffer, and each result is its own copy', () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({ ...r, device: `dev-${i}`, ts: r.ts + i }));
    const a = encodeLines(many);
    const copy = Buffer.from(a);
    const b = encodeLines(many.slice(0, 3).map((x) => ({ ...x, device: 'other' })));
    expect(a.length).toBeGreaterThan(64 * 1024);
    expect(a.equals(copy)).toBe(true);
    expect(a.toString().split('\n')).toHaveLength(2000);
    expect(a.toString().split('\n')[1999]).toBe(toLine(many[1999]!));
    expect(b.toString().split('\n')).toHaveLength(3);
  });
});
