/**
 * The harness itself, against the real daemons: the shared services do their
 * job, a private broker survives kill()/restart() on the same port, and a
 * missing binary is reported with the package that provides it.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  createInfluxDatabase,
  findBinary,
  freePort,
  influxQuery,
  startInfluxd,
  startMosquitto,
} from './index.ts';

const uniq = () => `${process.pid}_${Date.now()}_${Math.random().toString(16).slice(2, 8)}`;

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const exists = (p: string) => stat(p).then(() => true, () => false);

function nextMessage(client: MqttClient, topic: string): Promise<{ payload: string; qos: number }> {
  return new Promise((resolve) => {
    const on = (t: string, payload: Buffer, packet: mqtt.IPublishPacket) => {
      if (t !== topic) return;
      client.off('message', on);
      resolve({ payload: payload.toString(), qos: packet.qos });
    };
    client.on('message', on);
  });
}

const once = (client: MqttClient, event: 'connect' | 'offline' | 'close') =>
  new Promise<void>((resolve) => client.once(event as 'connect', () => resolve()));

// private services and clients are cleaned up even when a test fails
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!().catch(() => {});
});

describe('shared services from globalSetup', () => {
  it('mosquitto relays a QoS 1 message between two clients', async () => {
    const url = inject('mqttUrl');
    expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const sub = await mqtt.connectAsync(url, { clientId: `sub-${uniq()}` });
    cleanup.push(() => sub.endAsync());
    const pub = await mqtt.connectAsync(url, { clientId: `pub-${uniq()}` });
    cleanup.push(() => pub.endAsync());
    const topic = `test/harness/${uniq()}`;
    await sub.subscribeAsync(topic, { qos: 1 });
    const got = nextMessage(sub, topic);
    await pub.publishAsync(topic, 'hello', { qos: 1 }); // resolves on PUBACK
    expect(await got).toEqual({ payload: 'hello', qos: 1 });
  });

  it('influxd accepts a /write line with ms precision and influxQuery returns it', async () => {
    const url = inject('influxUrl');
    const db = `harness_${uniq()}`;
    await createInfluxDatabase(url, db);
    cleanup.push(() => influxQuery(url, db, `DROP DATABASE "${db}"`));
    const ts = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const res = await fetch(`${url}/write?db=${db}&precision=ms`, {
      method: 'POST',
      body: `harness,device=d1 ia=80.5,ok=true ${ts}`,
    });
    expect(res.status).toBe(204);
    const results = await influxQuery(url, db, 'SELECT "ia", "ok", "device" FROM harness');
    expect(results[0]!.series![0]).toMatchObject({
      name: 'harness',
      columns: ['time', 'ia', 'ok', 'device'],
      values: [[ts, 80.5, true, 'd1']],
    });
  });

  it('influxQuery throws with the server message on a bad query or a missing database', async () => {
    const url = inject('influxUrl');
    await expect(influxQuery(url, 'nope', 'SELEC 1')).rejects.toMatchObject({
      code: 'GW_ERR_HARNESS_INFLUX',
      message: expect.stringMatching(/HTTP 400.*error parsing query/),
    });
    await expect(influxQuery(url, `missing_${uniq()}`, 'SELECT * FROM x')).rejects.toThrow(/database not found/);
  });
});

describe('private mosquitto', () => {
  it('can be kill()ed and restart()ed on the same port, and clients reconnect', async () => {
    const mq = await startMosquitto();
    cleanup.push(() => mq.stop());
    const { port, url } = mq;
    const firstPid = mq.pid;

    const client = await mqtt.connectAsync(url, { clientId: `re-${uniq()}`, reconnectPeriod: 100 });
    cleanup.push(() => client.endAsync(true));
    const topic = `test/harness/${uniq()}`;
    await client.subscribeAsync(topic, { qos: 1 });

    const offline = once(client, 'offline');
    await mq.kill();
    expect(isAlive(firstPid)).toBe(false);
    await offline;
    expect(await exists(mq.dataDir)).toBe(true); // kill keeps data

    const reconnected = once(client, 'connect');
    await mq.restart();
    expect(mq.port).toBe(port);
    expect(mq.url).toBe(url);
    expect(mq.pid).not.toBe(firstPid);
    await reconnected;

    // mqtt.js resubscribes after a reconnect (resubscribe: true is the default)
    await expect.poll(async () => {
      const got = nextMessage(client, topic);
      await client.publishAsync(topic, 'after-restart', { qos: 1 });
      return Promise.race([got.then((m) => m.payload), new Promise((r) => setTimeout(() => r('timeout'), 500))]);
    }, { timeout: 10_000 }).toBe('after-restart');

    const pid = mq.pid;
    await mq.stop();
    expect(isAlive(pid)).toBe(false);
    expect(await exists(mq.dataDir)).toBe(false);
  });

  it('with persistence, a queued QoS 1 message for an offline session survives a graceful restart', async () => {
    const mq = await startMosquitto({ persistence: true });
    cleanup.push(() => mq.stop());
    const clientId = `persist-${uniq()}`;
    const topic = `test/harness/${uniq()}`;

    const sub1 = await mqtt.connectAsync(mq.url, { clientId, clean: false, reconnectPeriod: 0 });
    await sub1.subscribeAsync(topic, { qos: 1 });
    await sub1.endAsync();

    const pub = await mqtt.connectAsync(mq.url, { clientId: `pub-${uniq()}`, reconnectPeriod: 0 });
    await pub.publishAsync(topic, 'queued', { qos: 1 });
    await pub.endAsync();

    await mq.restart(); // SIGTERM makes mosquitto write its database
    expect(await exists(path.join(mq.dataDir, 'mosquitto.db'))).toBe(true);

    // listen before CONNACK: the broker sends queued messages right after it
    const sub2 = mqtt.connect(mq.url, { clientId, clean: false, reconnectPeriod: 0 });
    cleanup.push(() => sub2.endAsync(true));
    const got = nextMessage(sub2, topic);
    expect(await got).toEqual({ payload: 'queued', qos: 1 });
  });

  it('stop({ keepData: true }) keeps the directory; the final stop removes it', async () => {
    const mq = await startMosquitto();
    cleanup.push(() => mq.stop());
    await mq.stop({ keepData: true });
    expect(await exists(path.join(mq.dataDir, 'mosquitto.conf'))).toBe(true);
    await mq.restart();
    expect(isAlive(mq.pid)).toBe(true);
    await mq.stop();
    await mq.stop(); // idempotent
    expect(await exists(mq.dataDir)).toBe(false);
    await expect(mq.restart()).rejects.toMatchObject({ code: 'GW_ERR_HARNESS_STATE' });
  });

  it('a startup failure reports the child stderr tail', async () => {
    await expect(startMosquitto({ extraConfig: ['no_such_option 1'] })).rejects.toMatchObject({
      code: 'GW_ERR_HARNESS_START',
      message: expect.stringMatching(/mosquitto exited during startup[\s\S]*no_such_option/),
    });
  });
});

describe('private influxd', () => {
  it('keeps its databases across a restart on the same port', async () => {
    const influx = await startInfluxd();
    cleanup.push(() => influx.stop());
    const { port } = influx;
    await createInfluxDatabase(influx.url, 'kept');
    await influx.restart();
    expect(influx.port).toBe(port);
    const res = await influxQuery(influx.url, 'kept', 'SHOW DATABASES');
    expect(res[0]!.series![0]!.values).toContainEqual(['kept']);
    const pid = influx.pid;
    await influx.stop();
    expect(isAlive(pid)).toBe(false);
    expect(await exists(influx.dataDir)).toBe(false);
  });
});

describe('no child outlives its owner', () => {
  const servicesTs = fileURLToPath(new URL('./services.ts', import.meta.url));

  /** Runs a process that starts mosquitto and then dies the given way; returns mosquitto's pid and data dir. */
  async function ownerThat(dies: 'SIGKILL' | 'exit'): Promise<{ pid: number; dataDir: string }> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-owner-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const script = path.join(dir, 'owner.mts');
    await writeFile(
      script,
      `import { startMosquitto } from ${JSON.stringify(servicesTs)};
const mq = await startMosquitto();
process.stdout.write(JSON.stringify({ pid: mq.pid, dataDir: mq.dataDir }) + '\\n');
${dies === 'exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);'}
`,
    );
    const owner = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.push(async () => owner.kill('SIGKILL'));
    let out = '';
    owner.stdout.setEncoding('utf8');
    const line = await new Promise<string>((resolve, reject) => {
      owner.stdout.on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      owner.once('exit', (code) => setTimeout(() => reject(new Error(`owner exited ${code} before reporting: ${out}`)), 50));
    });
    const started = JSON.parse(line) as { pid: number; dataDir: string };
    cleanup.push(async () => isAlive(started.pid) && process.kill(started.pid, 'SIGKILL'));
    if (dies === 'SIGKILL') owner.kill('SIGKILL');
    return started;
  }

  it('an owner killed with SIGKILL takes its mosquitto and data dir with it (watchdog)', async () => {
    const { pid, dataDir } = await ownerThat('SIGKILL');
    await expect.poll(() => isAlive(pid), { timeout: 5_000 }).toBe(false);
    await expect.poll(() => exists(dataDir), { timeout: 5_000 }).toBe(false);
  });

  it('an owner that exits without stop() kills its mosquitto and removes the data dir (exit hook)', async () => {
    const { pid, dataDir } = await ownerThat('exit');
    await expect.poll(() => isAlive(pid), { timeout: 5_000 }).toBe(false);
    await expect.poll(() => exists(dataDir), { timeout: 5_000 }).toBe(false);
  });
});

describe('binaries and ports', () => {
  it('names the Debian package when the binary is missing, without spawning anything', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'gw-empty-path-'));
    cleanup.push(() => rm(empty, { recursive: true, force: true }));
    await expect(startMosquitto({ searchPath: empty })).rejects.toMatchObject({
      code: 'GW_ERR_HARNESS_BINARY_MISSING',
      message: 'mosquitto not found: install the Debian package "mosquitto" (apt-get install -y mosquitto)',
    });
    await expect(startInfluxd({ searchPath: empty })).rejects.toMatchObject({
      code: 'GW_ERR_HARNESS_BINARY_MISSING',
      message: 'influxd not found: install the Debian package "influxdb" (apt-get install -y influxdb)',
    });
  });

  it('findBinary takes the first executable file on the search path', async () => {
    const a = await mkdtemp(path.join(os.tmpdir(), 'gw-path-a-'));
    const b = await mkdtemp(path.join(os.tmpdir(), 'gw-path-b-'));
    cleanup.push(() => rm(a, { recursive: true, force: true }), () => rm(b, { recursive: true, force: true }));
    await writeFile(path.join(a, 'tool'), '#!/bin/sh\n'); // not executable
    await writeFile(path.join(b, 'tool'), '#!/bin/sh\n');
    await chmod(path.join(b, 'tool'), 0o755);
    expect(findBinary('tool', [a, b].join(path.delimiter))).toBe(path.join(b, 'tool'));
    expect(findBinary('tool', a)).toBeUndefined();
  });

  it('freePort returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const srv = net.createServer();
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  });
});
