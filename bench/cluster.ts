/**
 * Cluster benchmark: readings/s and server CPU per reading through a 3-node
 * NATS cluster (MQTT gateway → JetStream, partitioned by agent) against
 * Mosquitto (split by site), with one and with two gridwatch servers, in the
 * same run on the same InfluxDB. Printed, never asserted: the machine is
 * shared (docs/cluster.md has the figures and what they mean).
 *
 *   npx tsx bench/cluster.ts
 *   GW_BENCH_SECONDS=10 npx tsx bench/cluster.ts
 *   GW_BENCH_STAGES=n1 npx tsx bench/cluster.ts          (only some stages: m1 m2 n1 n2)
 *   GW_BENCH_SERVER_ARGS='--cpu-prof --cpu-prof-dir=prof' npx tsx bench/cluster.ts
 *                                     (more node flags for the servers, e.g. a CPU profile each)
 *
 * CPU per reading is given per reading stored and per reading accepted (a
 * server whose store lags fills its queue meanwhile: it parsed and judged
 * more readings than were stored). Each stage also prints the readings
 * accepted and messages received, what the servers read and wrote per
 * stored reading (/proc/<pid>/io: sockets to the broker and to InfluxDB,
 * files) and, through NATS, the messages and bytes of the servers' NATS
 * connections per stored reading (the nodes' /connz), in and out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { readingsTopic } from '../contract/index.ts';
import { createInfluxDatabase, startInfluxd, startMosquitto, startNatsCluster, type NatsCluster } from '../test/harness/index.ts';
import { cpuMeter, fmt, makeMessage, READINGS_PER_MESSAGE, runBench, type Cleanups } from './support.ts';

const SECONDS = Number(process.env.GW_BENCH_SECONDS ?? 8);
const AGENTS = 8;
const PARTITIONS = 8;
const PASSWORD = 'bench-password-1';
/** stages to run: m1, m2 (Mosquitto, 1 and 2 servers), n1, n2 (NATS); all by default */
const STAGES = new Set((process.env.GW_BENCH_STAGES ?? 'm1,m2,n1,n2').split(',').map((s) => s.trim()));
/** more node flags for the servers (GW_BENCH_SERVER_ARGS='--cpu-prof --cpu-prof-dir=prof') */
const SERVER_ARGS = (process.env.GW_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);

interface Proc {
  child: ChildProcess;
  url: string;
  cookie: string;
  stop(): Promise<void>;
}

/** `server/main.ts <config.json>` with the production V8 flag; resolves once it listens and the admin is logged in. */
async function startServer(config: Record<string, unknown>, cleanup: Cleanups): Promise<Proc> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-bench-cluster-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.json');
  await writeFile(file, JSON.stringify({ http: { host: '127.0.0.1', port: 0 }, dataDir: dir, auth: { adminPassword: PASSWORD }, ingest: { unknownDevices: 'accept' }, logLevel: 'warn', ...config }));
  const child = spawn(process.execPath, ['--max-semi-space-size=64', ...SERVER_ARGS, '--import', 'tsx', 'server/main.ts', file], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, GW_LOG_LEVEL: 'info' } });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`server did not start: ${buf.slice(-2000)}`)), 120_000);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(/"url":"(http:\/\/[^"]+)"/);
      if (m) {
        clearTimeout(t);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${buf.slice(-2000)}`)));
  });
  const res = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }) });
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const proc: Proc = {
    child,
    url,
    cookie,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
  cleanup.push(() => proc.stop());
  return proc;
}

/** A server's readings stored, readings accepted and readings messages received so far (its /metrics). */
async function counts(p: Proc): Promise<[number, number, number]> {
  const text = await (await fetch(`${p.url}/metrics`, { headers: { cookie: p.cookie } })).text();
  const one = (name: string) => Number(text.match(new RegExp(`^${name} ([0-9.e+-]+)`, 'm'))?.[1] ?? NaN);
  return [one('gridwatch_readings_stored_total'), one('gridwatch_readings_in_total'), one('gridwatch_messages_in_total')];
}

async function countsOf(servers: Proc[]): Promise<[number, number, number]> {
  return (await Promise.all(servers.map(counts))).reduce((a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]], [0, 0, 0]);
}

/**
 * AGENTS agent-shaped publishers (one MQTT connection each, to `urls[i mod n]`),
 * each keeping a window of QoS 1 messages of READINGS_PER_MESSAGE readings in
 * flight, until `stop` is called.
 */
async function load(urls: readonly string[], site: (i: number) => string, tag: string): Promise<() => Promise<void>> {
  const clients = await Promise.all(Array.from({ length: AGENTS }, (_, i) => mqtt.connectAsync(urls[i % urls.length]!, { clientId: `bench-${tag}-${i}`, protocolVersion: 4 })));
  let running = true;
  const loops = clients.map(async (c, i) => {
    const agent = `${tag}-a${i}`;
    const topic = readingsTopic(site(i), agent);
    let seq = 0;
    let ts = Date.now() - 3600_000;
    const window: Promise<unknown>[] = [];
    while (running) {
      window.push(c.publishAsync(topic, makeMessage(agent, seq, ts++), { qos: 1 }));
      seq += READINGS_PER_MESSAGE;
      if (window.length >= 20) await window.shift();
    }
    await Promise.allSettled(window);
  });
  return async () => {
    running = false;
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.endAsync(true)));
  };
}

/** Bytes a process read and wrote so far, all descriptors (/proc/<pid>/io rchar, wchar; Linux). */
function ioBytes(pid: number): [number, number] {
  try {
    const t = readFileSync(`/proc/${pid}/io`, 'utf8');
    return [Number(t.match(/^rchar: (\d+)/m)?.[1]), Number(t.match(/^wchar: (\d+)/m)?.[1])];
  } catch {
    return [NaN, NaN];
  }
}

/** Messages and bytes the NATS nodes sent to (`in`) and took from (`out`) the named clients, summed over the nodes (/connz). */
async function natsTraffic(monitorUrls: readonly string[], names: ReadonlySet<string>): Promise<{ inMsgs: number; inBytes: number; outMsgs: number; outBytes: number }> {
  const t = { inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0 };
  for (const url of monitorUrls) {
    const res = await fetch(`${url}/connz?limit=4096`).catch(() => null);
    if (!res?.ok) continue;
    const body = (await res.json()) as { connections?: { name?: string; in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number }[] };
    for (const c of body.connections ?? []) {
      if (!c.name || !names.has(c.name)) continue;
      // the node's out is the client's in
      t.inMsgs += c.out_msgs;
      t.inBytes += c.out_bytes;
      t.outMsgs += c.in_msgs;
      t.outBytes += c.in_bytes;
    }
  }
  return t;
}

interface NatsTap {
  monitorUrls: readonly string[];
  /** the servers' NATS connection names (`gridwatch-<serverId>`, and `-live` of the live share) */
  names: ReadonlySet<string>;
}

/** Readings/s stored by `servers` over SECONDS after a warm-up, their CPU per reading, and what they sent and received per reading. */
async function measure(name: string, servers: Proc[], brokers: Record<string, number>, urls: readonly string[], site: (i: number) => string, tag: string, nats?: NatsTap): Promise<void> {
  const stop = await load(urls, site, tag);
  await new Promise((r) => setTimeout(r, 3000));
  const pids = Object.fromEntries(servers.map((s, i) => [`s${i}`, s.child.pid!]));
  const cpu = cpuMeter(pids);
  const brokerCpu = cpuMeter(brokers);
  const io0 = servers.map((s) => ioBytes(s.child.pid!));
  const n0 = nats ? await natsTraffic(nats.monitorUrls, nats.names) : null;
  const [s0, in0, m0] = await countsOf(servers);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const [s1, in1, m1] = await countsOf(servers);
  const wall = (performance.now() - t0) / 1000;
  const used = cpu();
  const usedBroker = brokerCpu();
  const io1 = servers.map((s) => ioBytes(s.child.pid!));
  const n1 = nats ? await natsTraffic(nats.monitorUrls, nats.names) : null;
  await stop();
  const n = s1 - s0;
  const cores = Object.values(used).reduce((a, b) => a + b, 0);
  const bcores = Object.values(usedBroker).reduce((a, b) => a + b, 0);
  // a server takes readings in faster than the store confirms them until its queue is full (ingest.maxPending,
  // cluster.maxAckPending): its parse and rules ran for every reading accepted, so its CPU is also given per those
  const accepted = in1 - in0;
  console.log(
    `${name.padEnd(32)} ${fmt(n / wall).padStart(8)} readings/s | servers ${fmt(cores, 2)} cores, ${fmt(((cores * wall) / n) * 1e6, 1)} µs/reading (${fmt(((cores * wall) / accepted) * 1e6, 1)} µs/accepted) | broker ${fmt(bcores, 2)} cores, ${fmt(((bcores * wall) / n) * 1e6, 1)} µs/reading`,
  );
  const read = io1.reduce((a, x, i) => a + x[0] - io0[i]![0], 0);
  const written = io1.reduce((a, x, i) => a + x[1] - io0[i]![1], 0);
  let line = `${''.padEnd(32)} ${fmt(accepted)} readings accepted in ${fmt(m1 - m0)} messages; servers read ${fmt(read / n)} B and wrote ${fmt(written / n)} B per reading stored`;
  if (n0 && n1) {
    const per = (k: keyof typeof n0, digits: number) => fmt((n1[k] - n0[k]) / n, digits);
    line += `; NATS in ${per('inMsgs', 3)} msgs ${per('inBytes', 0)} B, out ${per('outMsgs', 3)} msgs ${per('outBytes', 0)} B per reading`;
  }
  console.log(line);
}

runBench(async (cleanup) => {
  const influx = await startInfluxd();
  cleanup.push(() => influx.stop());
  const mosq = await startMosquitto();
  cleanup.push(() => mosq.stop());
  const cluster: NatsCluster = await startNatsCluster({ partitions: PARTITIONS });
  cleanup.push(() => cluster.stop());
  console.log(`cluster bench: ${AGENTS} agents × ${READINGS_PER_MESSAGE} meters per message, ${SECONDS} s per stage, ${os.cpus().length} cores shared by everything`);
  let db = 0;
  const database = async () => {
    const name = `bench_cluster_${process.pid}_${++db}`;
    await createInfluxDatabase(influx.url, name);
    return { url: influx.url, database: name };
  };
  const stopAll = async (ps: Proc[]) => {
    for (const p of ps) await p.stop();
  };

  // Mosquitto: one server; two servers each serving half of the sites
  const mq = { mosquitto: mosq.pid };
  if (STAGES.has('m1')) {
    const one = [await startServer({ mqtt: { url: mosq.url, clientId: 'bench-m1' }, influx: await database() }, cleanup)];
    await measure('Mosquitto, 1 server', one, mq, [mosq.url], (i) => `m1s${i % 2}`, 'm1');
    await stopAll(one);
  }
  if (STAGES.has('m2')) {
    const influxCfg = await database();
    const two = [
      await startServer({ mqtt: { url: mosq.url, clientId: 'bench-m2a', sites: ['m2s0'] }, influx: influxCfg }, cleanup),
      await startServer({ mqtt: { url: mosq.url, clientId: 'bench-m2b', sites: ['m2s1'] }, influx: influxCfg }, cleanup),
    ];
    await measure('Mosquitto, 2 servers (by site)', two, mq, [mosq.url], (i) => `m2s${i % 2}`, 'm2');
    await stopAll(two);
  }
  // NATS: one server owning every partition; two sharing them
  const clusterCfg = (id: string) => ({ mqtt: { clientId: `bench-${id}` }, cluster: { nats: { servers: cluster.natsUrls }, mqttUrls: cluster.mqttUrls, serverId: id, partitions: PARTITIONS } });
  const nodes = Object.fromEntries(cluster.nodes.map((n) => [n.name, n.service.pid]));
  const tap = (ids: string[]): NatsTap => ({ monitorUrls: cluster.nodes.map((n) => n.monitorUrl), names: new Set(ids.flatMap((id) => [`gridwatch-${id}`, `gridwatch-${id}-live`])) });
  if (STAGES.has('n1')) {
    const one = [await startServer({ ...clusterCfg('n1a'), influx: await database() }, cleanup)];
    await new Promise((r) => setTimeout(r, 5000)); // every partition's lease taken
    await measure('NATS (3 nodes), 1 server', one, nodes, cluster.mqttUrls, (i) => `n1s${i % 2}`, 'n1', tap(['n1a']));
    await stopAll(one);
  }
  if (STAGES.has('n2')) {
    const influxCfg = await database();
    const two = [await startServer({ ...clusterCfg('n2a'), influx: influxCfg }, cleanup), await startServer({ ...clusterCfg('n2b'), influx: influxCfg }, cleanup)];
    await new Promise((r) => setTimeout(r, 8000)); // partitions spread over both
    await measure('NATS (3 nodes), 2 servers', two, nodes, cluster.mqttUrls, (i) => `n2s${i % 2}`, 'n2', tap(['n2a', 'n2b']));
    await stopAll(two);
  }
});
