import { describe, expect, inject, it } from 'vitest';
import { InfluxStore } from '../../server/index.ts';
import { storeContract } from './store-contract.ts';
import { lineLossContract } from './line-loss-contract.ts';

let n = 0;
const url = () => inject('influxUrl');
// a fresh database per test: the real influxd is shared by the whole run
const fresh = () => new InfluxStore({ url: url(), apiVersion: 1, database: `contract_${process.pid}_${n++}`, createDatabase: true, timeoutMs: 10_000 });

storeContract('influxdb 1.x', async () => fresh());
lineLossContract('influxdb 1.x', async () => fresh());

describe('InfluxStore against influxd 1.x', () => {
  it('reaches /write although the client speaks /api/v2/write', async () => {
    const s = fresh();
    await s.start();
    await s.write([{ site: 's', room: '', transformer: '', line: '', device: 'd', ts: Date.UTC(2026, 0, 1, 0, 0, 0, 123), q: 'good', late: false, v: { f: 50.01 } }]);
    const rows = await s.influxql('SELECT "f", "device" FROM reading');
    await s.stop();
    expect(rows[0]!.values).toEqual([[Date.UTC(2026, 0, 1, 0, 0, 0, 123), 50.01, 'd']]);
  });

  it('fails a write with a retryable error when influxd is unreachable', async () => {
    const s = new InfluxStore({ url: 'http://127.0.0.1:9', apiVersion: 1, database: 'x', createDatabase: false, timeoutMs: 2000 });
    await s.start();
    await expect(s.write([{ site: 's', room: '', transformer: '', line: '', device: 'd', ts: Date.UTC(2026, 0, 1), q: 'good', late: false, v: { f: 50 } }])).rejects.toMatchObject({ code: 'GW_ERR_STORE_WRITE', retryable: true });
    await s.stop();
  });

  it('fails a write influxd refuses with its own reason, and a write to a stopped store as unavailable', async () => {
    const s = new InfluxStore({ url: url(), apiVersion: 1, database: `never_created_${process.pid}`, createDatabase: false, timeoutMs: 10_000 });
    await s.start();
    const r = { site: 's', room: '', transformer: '', line: '', device: 'd', ts: Date.UTC(2026, 0, 1), q: 'good' as const, late: false, v: { f: 50 } };
    await expect(s.write([r])).rejects.toMatchObject({ code: 'GW_ERR_STORE_WRITE', message: expect.stringMatching(/database not found/) });
    await s.stop();
    await expect(s.write([r])).rejects.toMatchObject({ code: 'GW_ERR_STORE_UNAVAILABLE' });
  });
});
