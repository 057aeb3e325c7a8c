/**
 * Which HTTP endpoints the InfluxDB store speaks, per configured API version,
 * recorded by a plain local HTTP server: 1.x gets `/write?db=&rp=&u=&p=`,
 * 2.x/3.x get `/api/v2/write?org=&bucket=` with the token, and both query
 * InfluxQL over `/query` (with the 2.x bucket as the v1-compatible database).
 * The behaviour of a real 1.x server is covered by the contract suite.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../server/index.ts';
import { InfluxAlarmJournal, type TransitionEntry } from '../../server/alarms/index.ts';

interface Seen { method: string; url: string; auth: string | undefined; body: string }
const seen: Seen[] = [];
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
      if (req.url!.startsWith('/query')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ results: [{ statement_id: 0 }] }));
      } else {
        res.writeHead(204);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const transition: TransitionEntry = { kind: 'transition', seq: 7, alarmId: 'a:d', ruleId: 'a', source: 'd', from: 'normal', to: 'unack_active', reason: 'raise', at: Date.UTC(2026, 0, 1), severity: 2, active: true };
/** the alarm journal writes through the store: at ns precision, the same endpoint and credentials */
async function journalWrite(s: InfluxStore): Promise<Seen> {
  const j = new InfluxAlarmJournal(s);
  await j.start();
  await j.append([transition]);
  const w = seen.filter((x) => x.body.startsWith('alarm_event'));
  expect(w).toHaveLength(1);
  expect(w[0]!.body).toMatch(/ 1767225600000000007$/);
  return w[0]!;
}

const reading = { site: 's', room: '', transformer: '', line: '', device: 'd', ts: Date.UTC(2026, 0, 1), q: 'good' as const, late: false, v: { ua: 230 } };

describe('InfluxDB endpoints by API version', () => {
  it('1.x: creates the database, writes to /write with db, rp and credentials', async () => {
    seen.length = 0;
    const s = new InfluxStore({ url, apiVersion: 1, database: 'gw', retentionPolicy: 'autogen', username: 'u1', password: 'p1', createDatabase: true, timeoutMs: 2000 });
    await s.start();
    await s.write([reading]);
    await s.latest();
    const journal = await journalWrite(s);
    await s.stop();
    expect(Object.fromEntries(new URL(journal.url, url).searchParams)).toEqual({ db: 'gw', precision: 'ns', rp: 'autogen', u: 'u1', p: 'p1' });
    expect(seen[0]).toMatchObject({ method: 'POST' });
    expect(new URL(seen[0]!.url, url).searchParams.get('q')).toBe('CREATE DATABASE "gw"');
    const write = seen.find((x) => x.url.startsWith('/write'))!;
    const q = new URL(write.url, url).searchParams;
    expect(Object.fromEntries(q)).toEqual({ db: 'gw', precision: 'ms', rp: 'autogen', u: 'u1', p: 'p1' });
    expect(write.body).toBe('reading,device=d,site=s ua=230,quality="good" 1767225600000');
    expect(seen.some((x) => x.url.startsWith('/api/v2'))).toBe(false);
    const query = new URL(seen.find((x) => x.url.startsWith('/query?') && x.url.includes('SELECT'))!.url, url).searchParams;
    expect(query.get('db')).toBe('gw');
  });

  it('2.x/3.x: writes to /api/v2/write with org, bucket and token; queries the bucket over /query', async () => {
    seen.length = 0;
    const s = new InfluxStore({ url, apiVersion: 2, database: 'unused', token: 'tok-123', org: 'grid', bucket: 'telemetry', createDatabase: true, timeoutMs: 2000 });
    await s.start();
    await s.write([reading]);
    await s.latest();
    const journal = await journalWrite(s);
    await s.stop();
    expect(journal.url.startsWith('/api/v2/write?')).toBe(true);
    expect(Object.fromEntries(new URL(journal.url, url).searchParams)).toEqual({ org: 'grid', bucket: 'telemetry', precision: 'ns' });
    expect(journal.auth).toBe('Token tok-123');
    expect(seen.some((x) => x.url.includes('CREATE'))).toBe(false);
    const write = seen.find((x) => x.url.startsWith('/api/v2/write'))!;
    expect(Object.fromEntries(new URL(write.url, url).searchParams)).toMatchObject({ org: 'grid', bucket: 'telemetry', precision: 'ms' });
    expect(write.auth).toBe('Token tok-123');
    const query = seen.find((x) => x.url.startsWith('/query'))!;
    expect(new URL(query.url, url).searchParams.get('db')).toBe('telemetry');
    expect(query.auth).toBe('Token tok-123');
  });
});
