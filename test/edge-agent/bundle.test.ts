/**
 * The installable agent (scripts/build-agent.ts): the bundle is built, copied
 * into a temp directory with no node_modules anywhere above it, and started
 * through its launcher with a plain `node`, against a private Mosquitto, a
 * Modbus TCP simulator, a DL/T 645 simulator behind a TCP gateway and a
 * Modbus RTU and a DL/T 645 simulator each on a pty pair (serialport's
 * native binding, loaded from the prebuilds shipped next to the bundle, and
 * only once a serial port is opened). The config is YAML (the parser is
 * loaded only for a file that is not JSON). Readings of every meter arrive
 * on the broker: the bundle is self-contained. It holds no server code, logs
 * its start-up phases, and stops cleanly on SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { stringify as toYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReadingsPayload, readingsTopic } from '../../contract/index.ts';
import { loadAgentConfig } from '../../edge-agent/index.ts';
import { AGENT_NODE_FLAGS, buildAgent, type BuiltAgent } from '../../scripts/build-agent.ts';
import { createMeterModel, registerMapOf, startDlt645Simulator, startModbusRtuSimulator } from '../../simulators/index.ts';
import { freePort, startMosquitto } from '../harness/index.ts';
import { makeTestPki } from '../security/certs.ts';
import { gatewayDevices, REPO, serialPair, startGateways, tmpDir, waitFor } from './support.ts';

describe('the agent bundle', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('runs from a directory without node_modules and publishes readings of Modbus TCP, Modbus RTU and DL/T 645 meters', { timeout: 180_000 }, async () => {
    const build = tmpDir('gw-agent-build-');
    cleanups.push(build.remove);
    const built = await buildAgent(path.join(build.dir, 'agent'));
    // the agent carries none of the server's code or packages
    expect(built.inputs.filter((f) => f.startsWith('server/') || /node_modules\/(fastify|@duckdb|@influxdata|aedes)\//.test(f))).toEqual([]);
    expect(built.inputs.some((f) => f.startsWith('edge-agent/'))).toBe(true);
    // it logs with its own logger (edge-agent/log.ts): no pino, nor pino's writer and its worker thread
    expect(built.inputs.filter((f) => /node_modules\/(pino|pino-[a-z-]+|sonic-boom|thread-stream|@pinojs\/[a-z-]+)\//.test(f))).toEqual([]);
    expect(built.inputs).toContain('edge-agent/log.ts');
    // the agent's script holds what every agent runs; the config loader (zod, yaml, the schemas) is a script of its
    // own, required once at start and let go, and so is each package that only some configs use, required on first use
    expect(Object.keys(built.files).sort()).toEqual(
      ['gridwatch-agent.cjs', 'gridwatch-agent-config.cjs', 'mqtt-ws.cjs', 'mqtt-tls.cjs', 'mqtt-socks.cjs', 'worker-timers.cjs', 'lru-cache.cjs', 'modbus-serial.cjs', 'serialport.cjs'].sort(),
    );
    const main = built.files['gridwatch-agent.cjs']!.inputs;
    expect(main.filter((f) => /node_modules\/(zod|yaml|ws|socks|ip-address|smart-buffer|modbus-serial|serialport|@serialport\/[a-z-]+|lru-cache|worker-timers)\//.test(f))).toEqual([]);
    expect(main.filter((f) => /^(edge-agent\/(config|config-files|create-agent|profiles\/\w+|dlt645\/(config|profile))|contract\/topology)\.ts$/.test(f))).toEqual([]);
    expect(main).toContain('edge-agent/agent.ts');
    const configScript = built.files['gridwatch-agent-config.cjs']!.inputs;
    for (const f of ['node_modules/zod/', 'node_modules/yaml/', 'edge-agent/config.ts', 'edge-agent/profiles/schema.ts', 'edge-agent/dlt645/config.ts'])
      expect(configScript.some((i) => i.startsWith(f)), f).toBe(true);
    expect(built.files['mqtt-ws.cjs']!.inputs.some((f) => f.startsWith('node_modules/ws/'))).toBe(true);
    expect(built.files['serialport.cjs']!.inputs.some((f) => f.startsWith('node_modules/@serialport/bindings-cpp/'))).toBe(true);

    // installed elsewhere: nothing above it can lend it a package
    const work = tmpDir('gw-agent-install-');
    cleanups.push(work.remove);
    const dir = path.join(work.dir, 'opt', 'gridwatch-agent');
    cpSync(built.dir, dir, { recursive: true });
    for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) expect(existsSync(path.join(d, 'node_modules')), `${d}/node_modules`).toBe(false);
    for (const f of [...Object.keys(built.files), 'gridwatch-agent', 'gridwatch-agent.service', 'agent.example.yaml']) expect(existsSync(path.join(dir, f)), f).toBe(true);
    for (const p of ['linux-x64', 'linux-arm64', 'linux-arm']) expect(existsSync(path.join(dir, 'serialport', 'prebuilds', p)), p).toBe(true);
    expect(statSync(path.join(dir, 'gridwatch-agent')).mode & 0o111).not.toBe(0);
    expect(readFileSync(path.join(dir, 'gridwatch-agent'), 'utf8')).toContain(AGENT_NODE_FLAGS.join(' '));

    // loading the bundle loads no native code: serialport's binding waits for the first serial port
    const report = 'process.on("exit",()=>process.stderr.write("\\nNATIVE "+JSON.stringify(process.report.getReport().sharedObjects.filter((f)=>f.endsWith(".node")))+"\\n"))';
    const help = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(report)}`, path.join(dir, 'gridwatch-agent.cjs'), '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    expect(help.status).toBe(0);
    expect(help.stderr.match(/NATIVE (.*)/)?.[1]).toBe('[]');

    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const gateways = await startGateways(1, 2, 7);
    cleanups.push(() => Promise.all(gateways.map((g) => g.stop())));
    const dlt = await startDlt645Simulator({
      transport: { kind: 'tcp', host: '127.0.0.1', port: 0 },
      meters: [{ address: '000000000001', model: createMeterModel({ profile: 'residential', seed: 3 }) }],
    });
    cleanups.push(() => dlt.stop());
    const pair = await serialPair(work.dir);
    cleanups.push(() => pair.close());
    const pair645 = await serialPair(path.join(work.dir, 'opt'));
    cleanups.push(() => pair645.close());
    const dltSerial = await startDlt645Simulator({
      transport: { kind: 'serial', path: pair645.b, baudRate: 9600 },
      meters: [{ address: '000000000002', model: createMeterModel({ profile: 'residential', seed: 5 }) }],
    });
    cleanups.push(() => dltSerial.stop());
    const rtu = await startModbusRtuSimulator({
      path: pair.b,
      baudRate: 115_200,
      units: [{ unitId: 1, model: createMeterModel({ profile: 'feeder', seed: 4 }), registerMap: registerMapOf('sdm630') }],
    });
    cleanups.push(() => rtu.stop());

    const agent = 'bundle-agent';
    const site = 'bundle-site';
    const config = path.join(work.dir, 'agent.yaml');
    writeFileSync(
      config,
      toYaml({
        agent,
        site,
        mqtt: { url: broker.url },
        publishIntervalMs: 200,
        spool: { dir: path.join(work.dir, 'spool'), fsync: 'interval' },
        devices: [
          ...gatewayDevices(gateways, 2),
          { id: 'rtu-1', profile: 'sdm630', transport: { kind: 'rtu', path: pair.a, baudRate: 115_200 }, unitId: 1, intervalMs: 1000, timeoutMs: 1000 },
        ],
        dlt645: {
          // a profile of the config's own: resolved by the config loader, used by the agent without it
          profiles: [{ id: 'own-645', reads: [{ di: '0201FF00', quantities: ['ua', 'ub', 'uc'] }, { di: '02030000', quantities: ['p'] }] }],
          devices: [
            { id: 'dlt-1', profile: 'own-645', address: '000000000001', transport: { kind: 'tcp', host: '127.0.0.1', port: dlt.port }, intervalMs: 1000 },
            { id: 'dlt-2', profile: 'dlt645-3p', address: '000000000002', transport: { kind: 'serial', path: pair645.a, baudRate: 9600 }, intervalMs: 1000 },
          ],
        },
      }),
    );

    const seen = new Map<string, number>();
    const sub = await mqtt.connectAsync(broker.url, { clientId: 'bundle-test-sub' });
    cleanups.push(() => sub.endAsync());
    sub.on('message', (_t, payload) => {
      const parsed = parseReadingsPayload(payload);
      if (!parsed.ok) return;
      for (const r of parsed.value.readings) if (r.q === 'good') seen.set(r.device, (seen.get(r.device) ?? 0) + 1);
    });
    await sub.subscribeAsync(readingsTopic(site, agent), { qos: 1 });

    // a stock node and a bare environment: no NODE_OPTIONS, no NODE_PATH, no tsx
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', GW_NODE: process.execPath, GW_LOG_LEVEL: 'info' };
    const child: ChildProcess = spawn(path.join(dir, 'gridwatch-agent'), [config], { cwd: work.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    for (const s of [child.stdout, child.stderr]) s?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-100_000)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    cleanups.push(() => child.kill('SIGKILL'));

    const want = ['m0-1', 'm0-2', 'rtu-1', 'dlt-1', 'dlt-2'];
    await waitFor('readings of every meter from the bundled agent', () => want.every((d) => (seen.get(d) ?? 0) >= 2), 90_000).catch((err: Error) => {
      throw new Error(`${err.message}; seen ${JSON.stringify([...seen])}; agent output:\n${out.slice(-3000)}`);
    });
    expect(out).not.toMatch(/Cannot find (module|package)|No native build was found|ERR_MODULE_NOT_FOUND/);
    // start-up: the phases in order, to the broker's first PUBACK (a generous bound: the machine may be loaded)
    const first = out.split('\n').find((l) => l.includes('"first readings published"'));
    expect(first, 'first readings published').toBeDefined();
    const { sinceProcessStartMs, phasesMs } = JSON.parse(first!) as { sinceProcessStartMs: number; phasesMs: Record<string, number> };
    expect(Object.keys(phasesMs).sort()).toEqual(['config', 'firstReading', 'loaded', 'mqttConnected', 'started']);
    const order = [phasesMs.loaded!, phasesMs.config!, phasesMs.started!, sinceProcessStartMs];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(sinceProcessStartMs).toBeLessThan(30_000);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('edge agent stopped');
  });

  /** one more build for the tests below (the first test builds and installs its own) */
  let second: Promise<BuiltAgent> | undefined;
  const secondBuild = () => {
    if (!second) {
      const build = tmpDir('gw-agent-build-2-');
      cleanups.push(build.remove);
      second = buildAgent(path.join(build.dir, 'agent'));
    }
    return second;
  };

  it('refuses a bad config with the same messages as the agent run from source (zod bundled with only the members the agent uses)', async () => {
    const built = await secondBuild();
    const work = tmpDir('gw-agent-badconfig-');
    cleanups.push(work.remove);
    const doc = {
      agent: 'a b',
      site: 's',
      mqtt: { url: 'http://broker' },
      publishIntervalMs: 5,
      devices: [{ id: 'd', profile: 'nope', transport: { kind: 'tcp', host: 'h', port: 99_999 }, unitId: 300 }],
      room: { devices: [{ id: 'r', topic: 't', map: { ua: { path: 3 } } }] },
      dlt645: { devices: [{ id: 'e', profile: 'dlt645-3p', address: '12', transport: { kind: 'serial', path: '/dev/x', baudRate: 7 } }] },
    };
    const file = path.join(work.dir, 'agent.json');
    writeFileSync(file, JSON.stringify(doc));
    const r = spawnSync(process.execPath, [built.bundle, file], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    expect(r.status).toBe(2);
    const fatal = JSON.parse(r.stdout.split('\n').find((l) => l.includes('"level":60'))!) as { err: { message: string } };
    let expected = '';
    try {
      loadAgentConfig(doc);
    } catch (err) {
      expected = (err as Error).message;
    }
    expect(expected).toMatch(/Too small|Too big/);
    expect(fatal.err.message).toBe(expected);
  });

  it('loads what only some configs need when they need it: over mqtts:// the bundled agent publishes through TLS, and logs one line for the first poll of every meter', { timeout: 120_000 }, async () => {
    // mqtt.js's TLS transport (and node's tls) is evaluated at the first mqtts:// connect, not when the
    // client starts (scripts/agent-bundle-plugins.ts): a shim that failed to load it would fail here
    const built = await secondBuild();
    const pki = await makeTestPki();
    cleanups.push(() => rmSync(pki.dir, { recursive: true, force: true }));
    const tlsPort = await freePort();
    const broker = await startMosquitto({ extraConfig: [`listener ${tlsPort} 127.0.0.1`, `cafile ${pki.ca}`, `certfile ${pki.server.cert}`, `keyfile ${pki.server.key}`] });
    cleanups.push(() => broker.stop());
    const gateways = await startGateways(1, 1, 9);
    cleanups.push(() => Promise.all(gateways.map((g) => g.stop())));
    const work = tmpDir('gw-agent-tls-');
    cleanups.push(work.remove);
    const agent = 'bundle-tls';
    const site = 'bundle-site';
    const config = path.join(work.dir, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        agent,
        site,
        mqtt: { url: `mqtts://127.0.0.1:${tlsPort}`, tls: { ca: pki.ca } },
        publishIntervalMs: 200,
        spool: { dir: path.join(work.dir, 'spool'), fsync: 'interval' },
        // and one meter that never answers (nothing listens on its port)
        devices: [...gatewayDevices(gateways, 1), { id: 'gone-1', profile: 'sdm630', transport: { kind: 'tcp', host: '127.0.0.1', port: await freePort() }, unitId: 1, intervalMs: 1000, timeoutMs: 500 }],
      }),
    );
    let good = 0;
    const sub = await mqtt.connectAsync(broker.url, { clientId: 'bundle-tls-sub' });
    cleanups.push(() => sub.endAsync());
    sub.on('message', (_t, payload) => {
      const parsed = parseReadingsPayload(payload);
      if (parsed.ok) good += parsed.value.readings.filter((r) => r.q === 'good' && r.device === 'm0-1').length;
    });
    await sub.subscribeAsync(readingsTopic(site, agent), { qos: 1 });
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GW_NODE: process.execPath,
      GW_LOG_LEVEL: 'info',
      // the launcher's flags, and a heap snapshot on SIGUSR2 (written to the working directory)
      GW_AGENT_NODE_FLAGS: [...AGENT_NODE_FLAGS, '--heapsnapshot-signal=SIGUSR2'].join(' '),
    };
    const child: ChildProcess = spawn(built.launcher, [config], { cwd: work.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    for (const st of [child.stdout, child.stderr]) st?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-100_000)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    cleanups.push(() => child.kill('SIGKILL'));
    await waitFor('readings over mqtts from the bundled agent', () => good >= 2 || child.exitCode !== null, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; agent output:\n${out.slice(-3000)}`);
    });
    expect(child.exitCode, `the agent exited; its output:\n${out.slice(-3000)}`).toBeNull();
    expect(out).not.toMatch(/is not a function|Cannot find module|mqtt error/);
    // start-up logs one line for the first poll of every meter, not one per meter that answered
    await waitFor('the first-poll summary', () => out.includes('"every device polled once"'), 30_000);
    const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'every device polled once').map((l) => [l.devices, l.good, l.notAnswering])).toEqual([[2, 1, ['gone-1']]]);
    expect(lines.filter((l) => l.msg === 'device state changed').map((l) => `${String(l.deviceId)} ${String(l.from)}→${String(l.to)}`)).toEqual(['gone-1 unknown→comm_loss']);

    // the config loader was let go once the config was read: a heap snapshot of the running agent holds the start of
    // the agent's own script (each script's second line says what it is) and nothing of the config loader's
    const firstLine = (f: string) => readFileSync(path.join(built.dir, f), 'utf8').split('\n')[1]!;
    expect(firstLine('gridwatch-agent-config.cjs')).toMatch(/^\/\/ gridwatch-agent-config\.cjs: /);
    child.kill('SIGUSR2');
    let snapshot = '';
    await waitFor('the heap snapshot', () => {
      const f = readdirSync(work.dir).find((n) => n.endsWith('.heapsnapshot'));
      snapshot = f ? readFileSync(path.join(work.dir, f), 'utf8') : '';
      return snapshot.trimEnd().endsWith('}');
    }, 60_000, 200);
    const held = Object.fromEntries(['gridwatch-agent.cjs', 'gridwatch-agent-config.cjs', 'mqtt-tls.cjs', 'mqtt-ws.cjs'].map((f) => [f, snapshot.includes(JSON.stringify(firstLine(f)).slice(1, -1))]));
    // TLS was required at the first mqtts:// connect and stays; the WebSocket transport was never required
    expect(held).toEqual({ 'gridwatch-agent.cjs': true, 'gridwatch-agent-config.cjs': false, 'mqtt-tls.cjs': true, 'mqtt-ws.cjs': false });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('ships a systemd unit with a dedicated user, a state directory, restarts, hardening and a memory cap, that systemd-analyze accepts', () => {
    const unit = readFileSync(path.join(REPO, 'edge-agent/install/gridwatch-agent.service'), 'utf8');
    const set = (key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
    expect(set('User')).toEqual(['gridwatch-agent']);
    expect(set('StateDirectory')).toEqual(['gridwatch-agent']);
    expect(set('Restart')).toEqual(['always']);
    expect(set('ProtectSystem')).toEqual(['strict']);
    expect(set('NoNewPrivileges')).toEqual(['yes']);
    expect(set('SupplementaryGroups')).toEqual(['dialout']);
    expect(set('MemoryMax')).toHaveLength(1);
    // serial ports must stay visible
    expect(set('PrivateDevices')).toEqual([]);
    expect(set('ExecStart')).toEqual(['/opt/gridwatch-agent/gridwatch-agent /etc/gridwatch/agent.yaml']);

    const verify = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (verify.error) return; // systemd-analyze not installed: the checks above are all there is
    const work = tmpDir('gw-agent-unit-');
    try {
      // the launcher where the unit expects it, as a stand-in executable
      const launcher = path.join(work.dir, 'gridwatch-agent');
      writeFileSync(launcher, '#!/bin/sh\n', { mode: 0o755 });
      const file = path.join(work.dir, 'gridwatch-agent.service');
      writeFileSync(file, unit.replace('/opt/gridwatch-agent/gridwatch-agent', launcher));
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toBe('');
      expect(r.status).toBe(0);
    } finally {
      work.remove();
    }
  });
});
