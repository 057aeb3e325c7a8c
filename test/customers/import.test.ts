/**
 * Customer CSV import and the customer REST against a real server: encodings
 * (UTF-8 with BOM, GBK, UTF-16), Chinese and English headers, quoted fields,
 * empty phone ('no contact'), duplicate ids (both lines), unknown
 * transformers, all-or-nothing and partial, 10⁵ rows, topology reload with
 * its difference.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerChange } from '../../server/customers/store.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { TOPOLOGY } from './fixtures.ts';


/** GBK bytes of a string, by inverting the platform's GBK decoder (test-only; no encoder ships with Node). */
function gbk(text: string): Buffer {
  const dec = new TextDecoder('gbk');
  const map = new Map<string, number[]>();
  for (let a = 0x81; a <= 0xfe; a++) for (let b = 0x40; b <= 0xfe; b++) {
    if (b === 0x7f) continue;
    const ch = dec.decode(Uint8Array.of(a, b));
    if (ch.length === 1 && ch !== '\uFFFD' && !map.has(ch)) map.set(ch, [a, b]);
  }
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else {
      const bytes = map.get(ch);
      if (!bytes) throw new Error(`no GBK for ${ch}`);
      out.push(...bytes);
    }
  }
  return Buffer.from(out);
}

describe('customer import', () => {
  let ts: TestServer;
  let dir: string;
  const changes: CustomerChange[] = [];
  const post = (csv: Buffer | string, qs = '') =>
    ts.fetch(`/api/customers/import${qs}`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: typeof csv === 'string' ? csv : new Uint8Array(csv) });
  const list = async (qs: string) => (await (await ts.fetch(`/api/customers?${qs}`)).json()) as { total: number; noContact: number; customers: Array<Record<string, unknown>> };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gw-cust-'));
    await writeFile(path.join(dir, 'topology.yaml'), TOPOLOGY);
    ts = await startTestServer({ topologyYaml: TOPOLOGY, dataDir: dir, extra: { topologyFile: path.join(dir, 'topology.yaml') } });
    ts.server.notifyParts.customers.onChange((c) => changes.push(c));
  });
  afterAll(async () => {
    await ts?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('imports UTF-8 with BOM, Chinese headers, quoted fields and a customer without phone (flagged no contact)', async () => {
    const csv = '\uFEFF户号,户名,用电类别,重要用户,供电所,台区,线路,表号,联系人,电话\r\n' +
      'C001,"张三, 李四合租",居民生活用电,否,imp1,T1,1号出线,M001,张三,138 0000 0101\r\n' +
      'C002,"星光""超市""",一般工商业,否,东区供电所,东二台区,,M002,,13800000102;13900000102\r\n' +
      'C003,"多行\n地址用户",大工业,是,imp1,T3,10kV 东二线,,王五,\r\n';
    const res = await post(csv);
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ imported: true, encoding: 'utf-8-bom', rows: 3, accepted: 3, added: 3, noContact: 1, rejectedCount: 0 });
    const c1 = (await (await ts.fetch('/api/customers/C001')).json()) as Record<string, unknown>;
    expect(c1).toMatchObject({ name: '张三, 李四合租', category: 'residential', site: 'imp1', transformer: 'T1', line: 'L1', feeder: 'F1', meter: 'M001', reachable: true, source: 'import' });
    expect(c1.contacts).toEqual([{ name: '张三', role: 'electrical', phone: '13800000101' }]);
    const c2 = (await (await ts.fetch('/api/customers/C002')).json()) as { name: string; contacts: unknown[]; category: string };
    expect(c2.name).toBe('星光"超市"');
    expect(c2.category).toBe('commercial');
    expect(c2.contacts).toHaveLength(2);
    const noContact = await list('noContact=true');
    expect(noContact.customers.map((c) => c.id)).toEqual(['C003']);
    expect(noContact.customers[0]).toMatchObject({ name: '多行\n地址用户', important: true, category: 'industrial', reachable: false });
    expect((await list('feeder=F1')).customers.map((c) => c.id)).toEqual(['Y1', 'C001', 'C002']);
    expect(changes.at(-1)?.diff.added.sort()).toEqual(['C001', 'C002', 'C003']);
  });

  it('reads GBK, as Excel saves CSV on a Chinese Windows', async () => {
    const res = await post(gbk('户号,户名,台区,供电所,电话\r\nG001,赵六,东一台区,imp1,13800000201\r\n'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ encoding: 'gbk', added: 1 });
    expect(((await (await ts.fetch('/api/customers/G001')).json()) as { name: string }).name).toBe('赵六');
  });

  it('rejects every bad row with its line and imports nothing, unless partial=true', async () => {
    const before = (await list('pageSize=1')).total;
    const csv = 'customer_id,name,site,transformer,line,meter,phone,important\n' +
      'D1,ok one,imp1,T2,,,13800000301,no\n' +
      'D2,dup a,imp1,T2,,,,\n' +
      'D3,unknown tr,imp1,T9,,,,\n' +
      'D2,dup b,imp1,T2,,,,\n' +
      'D4,ambiguous,,T1,,,,\n' +
      'D5,bad phone,imp1,T2,,,call me,\n' +
      'D6,line elsewhere,imp1,T2,L1,,,\n' +
      'D7,meter taken,imp1,T2,,M001,,\n' +
      'Y1,topology own,imp1,T1,,,,\n' +
      'D8,bad flag,imp1,T2,,,,maybe\n' +
      'bad id!,x,imp1,T2,,,,\n' +
      'D9,ok two,imp1,T3,,,,yes\n';
    const res = await post(csv);
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: { code: string }; report: { rejected: Array<{ line: number; reason: string }>; accepted: number } };
    expect(body.error.code).toBe('GW_ERR_CUSTOMERS_IMPORT_REJECTED');
    expect(body.report.rejected.map((r) => `${r.line}: ${r.reason}`)).toEqual([
      '3: duplicate customer id "D2" (lines 3, 5)',
      '4: unknown transformer "T9" in site "imp1"',
      '5: duplicate customer id "D2" (lines 3, 5)',
      '6: transformer "T1" is in several sites (imp1, imp2): give the site (供电所)',
      '7: "call me" is not a phone number',
      '8: unknown line "L1" under transformer "T2"',
      '9: meter "M001" already belongs to customer "C001"',
      '10: customer "Y1" is defined in the topology file',
      '11: important must be 是/否 (yes/no), not "maybe"',
      '12: id: must be an id of letters, digits, _ . - (max 64)',
    ]);
    expect((await list('pageSize=1')).total).toBe(before);
    const partial = await post(csv, '?partial=true');
    expect(partial.status).toBe(200);
    expect(await partial.json()).toMatchObject({ imported: true, accepted: 2, added: 2, rejectedCount: 10 });
    expect((await list('pageSize=1')).total).toBe(before + 2);
    expect((await list('q=ok')).customers.map((c) => c.id).sort()).toEqual(['D1', 'D9']);
  });

  it('refuses an unreadable file as a whole: unknown column, no id column, unclosed quote', async () => {
    for (const [csv, msg] of [
      ['户号,户名,台区,颜色\nX1,a,T2,red\n', /unknown columns: 颜色/],
      ['户名,台区\na,T2\n', /no column for id/],
      ['户号,户名,台区\nX1,"open,T2\n', /line 2: a quoted field is not closed/],
    ] as const) {
      const res = await post(csv);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(msg);
    }
  });

  it('imports 10⁵ rows', async () => {
    const lines = ['户号,户名,供电所,台区,电话,表号'];
    for (let i = 0; i < 100_000; i++) lines.push(`B${i},用户${i},imp1,T${1 + (i % 3)},139${String(i).padStart(8, '0')},BM${i}`);
    const t0 = performance.now();
    const res = await post(lines.join('\r\n'), '?mode=merge');
    const ms = performance.now() - t0;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ imported: true, rows: 100_000, added: 100_000 });
    console.log(`import of 100000 rows: ${ms.toFixed(0)} ms`);
    expect((await list('site=imp1&transformer=T3&pageSize=1')).total).toBeGreaterThan(33_000);
    // replace: the file is the whole imported set again
    const small = await post('户号,户名,供电所,台区\nB1,用户1,imp1,T2\n', '?mode=replace');
    expect(await small.json()).toMatchObject({ imported: true, updated: 1, removed: 100_000 + 6 - 1 });
  });

  it('reloads the topology without a restart and says what changed', async () => {
    const n = changes.length;
    await writeFile(path.join(dir, 'topology.yaml'), TOPOLOGY.replace('{ id: T2, name: 东二台区, ratedKva: 400, feeder: F1 }', '{ id: T2, name: 东二台区, ratedKva: 400, feeder: F2 }'));
    const res = await ts.fetch('/api/topology/reload', { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { diff: { changed: string[]; transformersMoved: unknown[] } };
    expect(body.diff.transformersMoved).toEqual([{ site: 'imp1', transformer: 'T2', from: 'F1', to: 'F2' }]);
    expect(body.diff.changed).toEqual(['B1']);
    expect(changes.length).toBe(n + 1);
    expect(changes.at(-1)?.reason).toBe('topology_reload');
    expect((await list('feeder=F2')).customers.map((c) => c.id)).toContain('B1');
    // an invalid file changes nothing
    await writeFile(path.join(dir, 'topology.yaml'), TOPOLOGY.replace('feeder: F2 }', 'feeder: F7 }'));
    const bad = await ts.fetch('/api/topology/reload', { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/unknown feeder "F7"/);
    expect((await list('feeder=F2')).customers.map((c) => c.id)).toContain('B1');
  });

  it('needs an admin to import and a session to list', async () => {
    expect((await ts.fetch('/api/customers/import', { method: 'POST', role: 'operator', headers: { 'content-type': 'text/csv' }, body: 'x' })).status).toBe(403);
    expect((await fetch(`${ts.server.url}/api/customers`)).status).toBe(401);
  });
});
