import { Point } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { decodeTagValue, encodeTagValue, toLine } from '../../server/store/influx.ts';
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
});
