/**
 * CSV export over real HTTP: byte-order mark, CRLF, RFC 4180 quoting of
 * commas, quotes and newlines, the formula-injection guard, Chinese or
 * English headers, timestamps in the site's zone, station scopes on history,
 * alarms and the journal, and 200,000 points from DuckDB streamed in chunks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '../../server/index.ts';
import { login, startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';

const TOPOLOGY = `
sites:
  - id: x-a
    name: A
    rooms:
      - id: r1
        name: R1
        transformers:
          - id: t1
            name: T1
            ratedKva: 630
            lines:
              - { id: l1, name: L1, ratedCurrentA: 250, meter: xa-m1 }
  - id: x-b
    name: B
    rooms:
      - id: r1
        name: R1
        transformers:
          - id: t1
            name: T1
            ratedKva: 630
            lines:
              - { id: l1, name: L1, ratedCurrentA: 250, meter: xb-m1 }
`;
const T0 = Date.UTC(2026, 9, 1); // 2026-10-01T08:00:00+08:00
const POINTS = 200_000;
const HOSTILE = '=HYPERLINK("http://x"), "quoted"\nsecond line';
let ts: TestServer;
let scoped: string;

const r = (site: string, device: string, t: number, v: StoredReading['v']): StoredReading => ({ site, room: 'r1', transformer: 't1', line: 'l1', device, ts: t, q: 'good', late: false, v });

/** RFC 4180 records of a CSV body (after the BOM). */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell), out.push(row), (row = []), (cell = ''), i++;
    } else if (c === '\n' || c === '\r') throw new Error(`bare line end at ${i}`);
    else cell += c;
  }
  if (cell || row.length) throw new Error('last record without CRLF');
  return out;
}

async function csv(res: Response): Promise<string[][]> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="[\w.-]+\.csv"$/);
  const bytes = new Uint8Array(await res.arrayBuffer());
  expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  return parseCsv(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.slice(3)));
}

beforeAll(async () => {
  ts = await startTestServer({ topologyYaml: TOPOLOGY });
  for (let i = 0; i < POINTS; i += 50_000) {
    const batch: StoredReading[] = [];
    for (let k = i; k < Math.min(POINTS, i + 50_000); k++) batch.push(r('x-a', 'xa-m1', T0 + k * 1000, { ia: k, ua: -k / 2 }));
    await ts.server.store.write(batch);
  }
  await ts.server.store.write([r('x-b', 'xb-m1', T0, { ia: 7 })]);
  await ts.server.auth.putUser('scoped-a', TEST_PASSWORD, 'viewer', ['x-a']);
  scoped = await login(ts.server.url, 'scoped-a', TEST_PASSWORD);
  // one alarm per site, taken out of service with a reason a spreadsheet would run
  for (const [id, reason] of [['comm-loss:xa-m1', HOSTILE], ['comm-loss:xb-m1', 'b site, "other"']]) {
    const res = await ts.fetch(`/api/alarms/${encodeURIComponent(id!)}/remove-from-service`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason }) });
    expect(res.status, await res.clone().text()).toBe(200);
  }
}, 120_000);
afterAll(async () => ts?.close());

describe('GET /api/history.csv', () => {
  it('writes BOM, English or Chinese headers, CRLF records and times in +08:00 by default', async () => {
    const en = await csv(await ts.fetch(`/api/history.csv?device=xa-m1&quantity=ia,ua&from=${T0}&to=${T0 + 3000}`));
    expect(en).toEqual([
      ['time', 'site', 'device', 'ia', 'ua'],
      ['2026-10-01T08:00:00.000+08:00', 'x-a', 'xa-m1', '0', '0'],
      ['2026-10-01T08:00:01.000+08:00', 'x-a', 'xa-m1', '1', '-0.5'],
      ['2026-10-01T08:00:02.000+08:00', 'x-a', 'xa-m1', '2', '-1'],
    ]);
    const zh = await csv(await ts.fetch(`/api/history.csv?line=l1&quantity=ia&from=${T0}&to=${T0 + 1000}&lang=zh&tz=Z`));
    expect(zh).toEqual([
      ['时间', '站点', '设备', 'ia'],
      ['2026-10-01T00:00:00.000Z', 'x-a', 'xa-m1', '0'],
      ['2026-10-01T00:00:00.000Z', 'x-b', 'xb-m1', '7'],
    ]);
  });

  it('buckets with step and aggregate as /api/history does', async () => {
    const rows = await csv(await ts.fetch(`/api/history.csv?device=xa-m1&quantity=ia&from=${T0}&to=${T0 + 3 * 3_600_000}&step=3600000&aggregate=max`));
    expect(rows.slice(1)).toEqual([
      ['2026-10-01T08:00:00.000+08:00', 'x-a', 'xa-m1', '3599'],
      ['2026-10-01T09:00:00.000+08:00', 'x-a', 'xa-m1', '7199'],
      ['2026-10-01T10:00:00.000+08:00', 'x-a', 'xa-m1', '10799'],
    ]);
  });

  it('streams 200,000 points in chunks without holding the file', async () => {
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
    const res = await ts.fetch(`/api/history.csv?device=xa-m1&quantity=ia,ua&from=${T0}&to=${T0 + POINTS * 1000}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let chunks = 0;
    let bytes = 0;
    let lines = 0;
    let last = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      bytes += value.length;
      const text = decoder.decode(value, { stream: true });
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
      last = (last + text).slice(-200);
    }
    clearInterval(timer);
    expect(lines).toBe(POINTS + 1);
    expect(last.endsWith(`xa-m1,${POINTS - 1},${-(POINTS - 1) / 2}\r\n`)).toBe(true);
    expect(chunks).toBeGreaterThan(10);
    const grewMb = (peak - before) / 1e6;
    console.log(`history.csv: ${POINTS} points, ${(bytes / 1e6).toFixed(1)} MB in ${chunks} chunks; heap grew at most ${grewMb.toFixed(1)} MB`);
    expect(grewMb).toBeLessThan(64);
  }, 120_000);

  it('answers a device outside the user\'s stations as unknown, and bad input with 400', async () => {
    const other = await fetch(`${ts.server.url}/api/history.csv?device=xb-m1&quantity=ia&from=${T0}&to=${T0 + 1000}`, { headers: { cookie: scoped } });
    expect(other.status).toBe(404);
    expect((await other.json()).error.code).toBe('GW_ERR_HTTP_NOT_FOUND');
    const own = await csv(await fetch(`${ts.server.url}/api/history.csv?line=l1&quantity=ia&from=${T0}&to=${T0 + 1000}`, { headers: { cookie: scoped } }));
    expect(own.slice(1).map((row) => row[2])).toEqual(['xa-m1']);
    for (const q of ['device=xa-m1&quantity=nope&from=0', 'device=xa-m1&quantity=ia&from=0&tz=Mars', 'device=xa-m1&quantity=ia&from=0&lang=fr', `device=xa-m1&quantity=ia&from=${T0}&to=${T0 - 1}`]) {
      const res = await ts.fetch(`/api/history.csv?${q}`);
      expect(res.status, q).toBe(400);
      expect((await res.json()).error.code).toBe('GW_ERR_HTTP_BAD_REQUEST');
    }
    expect((await fetch(`${ts.server.url}/api/history.csv?device=xa-m1&quantity=ia&from=0`)).status).toBe(401);
  });
});

describe('GET /api/alarms.csv and /api/alarm-events.csv', () => {
  it('quotes commas, quotes and newlines and guards formulas; a scoped user sees its stations only', async () => {
    const all = await csv(await ts.fetch('/api/alarms.csv?lang=zh', { role: 'viewer' }));
    expect(all[0]!.slice(0, 5)).toEqual(['告警编号', '规则', '规则名称', '来源', '状态']);
    const a = all.find((row) => row[0] === 'comm-loss:xa-m1')!;
    expect(a[4]).toBe('out_of_service');
    expect(a.at(-1)).toBe(`'${HOSTILE}`);
    expect(all.find((row) => row[0] === 'comm-loss:xb-m1')!.at(-1)).toBe('b site, "other"');
    const mine = await csv(await fetch(`${ts.server.url}/api/alarms.csv`, { headers: { cookie: scoped } }));
    expect(mine[0]![0]).toBe('alarm id');
    expect(mine.slice(1).map((row) => row[0])).toEqual(['comm-loss:xa-m1']);
    const filtered = await csv(await ts.fetch('/api/alarms.csv?site=x-b'));
    expect(filtered.slice(1).map((row) => row[0])).toEqual(['comm-loss:xb-m1']);
  });

  it('writes the journal with its times in the zone, filtered by station', async () => {
    await ts.server.alarms.drainJournal();
    const all = await csv(await ts.fetch('/api/alarm-events.csv?kind=transition'));
    expect(all[0]).toEqual(['seq', 'kind', 'time', 'alarm id', 'rule', 'source', 'from', 'to', 'reason', 'by', 'comment', 'severity', 'level', 'message', 'detail']);
    const a = all.find((row) => row[3] === 'comm-loss:xa-m1' && row[7] === 'out_of_service')!;
    expect(a[2]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$/);
    expect(a[9]).toBe('admin');
    expect(a[10]).toBe(`'${HOSTILE}`);
    const mine = await csv(await fetch(`${ts.server.url}/api/alarm-events.csv?lang=zh`, { headers: { cookie: scoped } }));
    expect(mine[0]![0]).toBe('序号');
    expect(new Set(mine.slice(1).map((row) => row[3]))).toEqual(new Set(['comm-loss:xa-m1']));
  });
});
