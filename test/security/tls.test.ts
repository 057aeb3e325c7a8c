/**
 * The embedded broker's TLS listener with required client certificates: a
 * real edge agent connects over mqtts with the test CA and its certificate; a
 * client that does not trust the broker's CA, one without a certificate, one
 * whose certificate another CA signed, and one whose certificate names
 * another agent are all refused.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, loadAgentConfig } from '../../edge-agent/index.ts';
import { createMeterModel, startModbusSimulator, type ModbusSimulator } from '../../simulators/index.ts';
import { testLog } from '../support/logger.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTestPki, type TestPki } from './certs.ts';
import { tryConnect } from './mqtt-matrix.ts';
import { readFileSync } from 'node:fs';

let pki: TestPki;
let ts: TestServer;
let sim: ModbusSimulator;
let tlsUrl = '';

beforeAll(async () => {
  pki = await makeTestPki();
  ts = await startTestServer({
    extra: {
      mqtt: { embedded: { host: '127.0.0.1', port: 0, tls: { port: 0, cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requireClientCert: true } } },
    },
  });
  tlsUrl = ts.server.mqttTlsUrl!;
  sim = await startModbusSimulator({ port: 0, units: [{ unitId: 1, model: createMeterModel({ profile: 'feeder', seed: 3 }) }] });
}, 60_000);

afterAll(async () => {
  await sim?.stop();
  await ts?.close();
  if (pki) await rm(pki.dir, { recursive: true, force: true });
});

const refused = async (reason: string) =>
  (await ts.server.metrics.registry.getSingleMetric('gridwatch_mqtt_refused_total')!.get()).values.find((v) => v.labels.reason === reason && v.labels.action === 'connect')?.value ?? 0;

describe('embedded broker over TLS with client certificates', () => {
  it('serves mqtts next to the loopback listener', () => {
    expect(tlsUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
  });

  it('a real edge agent connects with the test CA and its own certificate (CN = agent id) and goes online', async () => {
    const { password } = await ts.mqttAgent('tls-x', 'tls-site');
    const cert = await pki.client('tls-x');
    const agent = createAgent(
      loadAgentConfig({
        agent: 'tls-x',
        site: 'tls-site',
        mqtt: { url: tlsUrl, username: 'tls-x', password, tls: { ca: pki.ca, cert: cert.cert, key: cert.key }, reconnectPeriodMs: 200 },
        publishIntervalMs: 200,
        devices: [{ id: 'tls-m1', profile: 'dtsu666', transport: { kind: 'tcp', host: sim.host, port: sim.port }, unitId: 1, intervalMs: 500, timeoutMs: 500 }],
      }),
      { log: testLog },
    );
    await agent.start();
    try {
      await expect.poll(() => ts.server.ingest.agents()['tls-x']?.state, { timeout: 15_000 }).toBe('online');
      // its readings arrive and are stored: the server's watermark for it moves
      await expect.poll(() => ts.server.ingest.watermark('tls-x') ?? -1, { timeout: 15_000 }).toBeGreaterThanOrEqual(0);
    } finally {
      await agent.stop();
    }
  }, 60_000);

  it('a client that trusts another CA does not connect (the broker\'s certificate does not verify)', async () => {
    const { password } = await ts.mqttAgent('tls-ca', 'tls-site');
    const cert = await pki.client('tls-ca');
    const r = await tryConnect(tlsUrl, { username: 'tls-ca', password, clientId: 'tls-ca' }, { ca: readFileSync(pki.otherCa), cert: readFileSync(cert.cert), key: readFileSync(cert.key) });
    expect(r.result.ok).toBe(false);
    // with the right CA the same client connects
    const ok = await tryConnect(tlsUrl, { username: 'tls-ca', password, clientId: 'tls-ca' }, { ca: readFileSync(pki.ca), cert: readFileSync(cert.cert), key: readFileSync(cert.key) });
    expect(ok.result.ok).toBe(true);
    ok.client!.end(true);
  });

  it('a certificate whose CN names another agent is refused (CONNACK 5), counted as cn_mismatch', async () => {
    const { password } = await ts.mqttAgent('tls-y', 'tls-site');
    const other = await pki.client('tls-someone-else');
    const before = await refused('cn_mismatch');
    const r = await tryConnect(tlsUrl, { username: 'tls-y', password, clientId: 'tls-y' }, { ca: readFileSync(pki.ca), cert: readFileSync(other.cert), key: readFileSync(other.key) });
    expect(r.result).toEqual({ ok: false, code: 5 });
    expect(await refused('cn_mismatch')).toBe(before + 1);
    expect(ts.server.audit.query({ kind: ['mqtt_auth_failed'], actor: 'tls-y' })[0]).toMatchObject({ detail: 'cn_mismatch', target: 'CN=tls-someone-else' });
    // a certificate that names nobody is no better
    const nameless = await pki.client('');
    const r2 = await tryConnect(tlsUrl, { username: 'tls-y', password, clientId: 'tls-y' }, { ca: readFileSync(pki.ca), cert: readFileSync(nameless.cert), key: readFileSync(nameless.key) });
    expect(r2.result).toEqual({ ok: false, code: 5 });
    expect(await refused('cn_mismatch')).toBe(before + 2);
  });

  it('without a client certificate, or with one another CA signed, the handshake fails', async () => {
    const { password } = await ts.mqttAgent('tls-z', 'tls-site');
    const none = await tryConnect(tlsUrl, { username: 'tls-z', password, clientId: 'tls-z' }, { ca: readFileSync(pki.ca) });
    expect(none.result.ok).toBe(false);
    const forged = await pki.client('tls-z', { by: 'other' });
    const r = await tryConnect(tlsUrl, { username: 'tls-z', password, clientId: 'tls-z' }, { ca: readFileSync(pki.ca), cert: readFileSync(forged.cert), key: readFileSync(forged.key) });
    expect(r.result.ok).toBe(false);
  });

  it("another server's ingest connects over mqtts with mqtt.tls (its certificate's CN is its user name)", async () => {
    const cert = await pki.client('gridwatch-server');
    const { password } = ts.mqttServer();
    const b = await startTestServer({
      mqttUrl: tlsUrl,
      sites: ['tls-site'],
      extra: { mqtt: { url: tlsUrl, clientId: 'gw-tls-ingest', username: 'gridwatch-server', password, sites: ['tls-site'], tls: { ca: pki.ca, cert: cert.cert, key: cert.key } } },
    });
    try {
      expect(b.server.ingest.connected).toBe(true);
    } finally {
      await b.close();
    }
  }, 60_000);

  it('a right certificate does not replace the password', async () => {
    const { password } = await ts.mqttAgent('tls-w', 'tls-site');
    const cert = await pki.client('tls-w');
    const tlsOpts = { ca: readFileSync(pki.ca), cert: readFileSync(cert.cert), key: readFileSync(cert.key) };
    expect((await tryConnect(tlsUrl, { username: 'tls-w', password: 'wrong', clientId: 'tls-w' }, tlsOpts)).result).toEqual({ ok: false, code: 4 });
    const ok = await tryConnect(tlsUrl, { username: 'tls-w', password, clientId: 'tls-w' }, tlsOpts);
    expect(ok.result.ok).toBe(true);
    ok.client!.end(true);
  });
});
