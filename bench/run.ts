/**
 * gridwatch benchmark. Starts a private Mosquitto and influxd, measures their
 * raw ceilings in this same run, then the whole path
 *   agent-shaped MQTT messages → Mosquitto → server → InfluxDB (+ WebSocket)
 * and prints every figure as a ratio of the ceilings. Nothing here asserts a
 * time: the machine is shared and noisy; the figures go into docs/performance.md.
 *
 *   npm run bench                    all stages
 *   GW_BENCH_SECONDS=10 npm run bench  length of each measured stage
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { readingsTopic } from '../contract/index.ts';
import { influxQuery, startInfluxd, startMosquitto, type ServiceHandle } from '../test/harness/index.ts';
import { cpuMeter, fmt, pct, quantile, serverMetric, startServerProcess, type ServerProc, runBench, type Cleanups, makeMessage, BENCH_VALUES, READINGS_PER_MESSAGE } from './support.ts';

const SECONDS = Number(process.env.GW_BENCH_SECONDS ?? 8);
/** GW_BENCH_STAGES=path skips the latency stages (e.g. for profiling) */
const STAGES = (process.env.GW_BENCH_STAGES ?? 'ceilings,path,latency').split(',');
/** WebSocket frames per second per client: a reading waits at most 1/LIVE_FPS for its frame */
const LIVE_FPS = Number(process.env.GW_BENCH_LIVE_FPS ?? 100);


/** Raw Mosquitto: QoS 1 messages/s from one plain publisher to one plain subscriber. */
async function mosquittoCeiling(url: string, payloadBytes: number): Promise<number> {
  const sub = await mqtt.connectAsync(url, { clientId: `bench-sub-${payloadBytes}` });
  const pub = await mqtt.connectAsync(url, { clientId: `bench-pub-${payloadBytes}` });
  await sub.subscribeAsync('bench/raw', { qos: 1 });
  let received = 0;
  sub.on('message', () => received++);
  const payload = Buffer.alloc(payloadBytes, 0x61);
  const until = Date.now() + SECONDS * 1000;
  const t0 = performance.now();
  let sent = 0;
  // keep a window of QoS 1 publishes in flight, as a real publisher would
  const window = 100;
  await new Promise<void>((resolve) => {
    let inflight = 0;
    const pump = () => {
      while (inflight < window && Date.now() < until) {
        inflight++;
        sent++;
        pub.publish('bench/raw', payload, { qos: 1 }, () => {
          inflight--;
          pump();
        });
      }
      if (inflight === 0 && Date.now() >= until) resolve();
    };
    pump();
  });
  while (received < sent) await new Promise((r) => setTimeout(r, 10));
  const rate = received / ((performance.now() - t0) / 1000);
  await pub.endAsync();
  await sub.endAsync();
  return rate;
}

/** Raw influxd: points/s through POST /write, 5,000-line batches of 10-field lines, two writers. */
async function influxCeiling(url: string, pid: number): Promise<{ rate: number; cores: number }> {
  await fetch(`${url}/query?q=${encodeURIComponent('CREATE DATABASE raw')}`, { method: 'POST' });
  const fields = Object.entries(BENCH_VALUES).map(([k, v]) => `${k}=${v}`).join(',');
  let written = 0;
  const base = Date.UTC(2026, 0, 1);
  const until = Date.now() + SECONDS * 1000;
  const t0 = performance.now();
  let n = 0;
  const writer = async (w: number) => {
    while (Date.now() < until) {
      const lines: string[] = [];
      for (let i = 0; i < 5000; i++, n++) lines.push(`reading,site=s,room=r,transformer=t,line=l${n % 20},device=d${w}-${n % 1000} ${fields},quality="good" ${base + Math.floor(n / 1000) * 1000}`);
      const res = await fetch(`${url}/write?db=raw&precision=ms`, { method: 'POST', body: lines.join('\n') });
      if (res.status !== 204) throw new Error(`raw write ${res.status}: ${await res.text()}`);
      written += lines.length;
    }
  };
  const cpu = cpuMeter({ influxd: pid });
  await Promise.all([writer(0), writer(1)]);
  return { rate: written / ((performance.now() - t0) / 1000), cores: cpu().influxd! };
}


/**
 * Whole path at full speed: `agents` publishers each send messages of 100
 * readings as fast as QoS 1 allows for SECONDS; then waits until the server
 * reports every reading stored and checks InfluxDB holds exactly that many.
 */
async function wholePath(
  mqttUrl: string,
  influxUrl: string,
  server: ServerProc,
  db: string,
  agents: number,
  pids: Record<string, number>,
): Promise<{ rate: number; sent: number; stored: number; cores: Record<string, number> }> {
  const pubs = await Promise.all(Array.from({ length: agents }, (_, a) => mqtt.connectAsync(mqttUrl, { clientId: `bench-agent-${a}` })));
  const base = Date.UTC(2026, 1, 1);
  let sent = 0;
  const until = Date.now() + SECONDS * 1000;
  const t0 = performance.now();
  const cpu = cpuMeter({ ...pids, bench: process.pid });
  const busy0 = await serverMetric(server, 'gridwatch_event_loop_busy_seconds_total');
  await Promise.all(
    pubs.map(async (pub, a) => {
      const agent = `agent-${a}`;
      let seq = 0;
      let tick = 0;
      let inflight = 0;
      await new Promise<void>((resolve) => {
        const pump = () => {
          while (inflight < 20 && Date.now() < until) {
            const payload = makeMessage(agent, seq, base + tick++ * 1000);
            seq += READINGS_PER_MESSAGE;
            inflight++;
            pub.publish(readingsTopic('bench', agent), payload, { qos: 1 }, () => {
              inflight--;
              sent += READINGS_PER_MESSAGE;
              pump();
            });
          }
          if (inflight === 0 && Date.now() >= until) resolve();
        };
        pump();
      });
    }),
  );
  let stored = 0;
  for (;;) {
    stored = await serverMetric(server, 'gridwatch_readings_stored_total');
    if (stored >= sent) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const wall = (performance.now() - t0) / 1000;
  const rate = stored / wall;
  const cores = { ...cpu(), serverEventLoop: ((await serverMetric(server, 'gridwatch_event_loop_busy_seconds_total')) - busy0) / wall };
  const writes = await serverMetric(server, 'gridwatch_store_write_seconds_count');
  const writeS = await serverMetric(server, 'gridwatch_store_write_seconds_sum');
  console.log(`         store writes: ${fmt(writes)}, mean ${fmt(stored / writes)} readings, mean ${fmt((writeS / writes) * 1000, 1)} ms each`);
  await Promise.all(pubs.map((p) => p.endAsync()));
  const res = await influxQuery(influxUrl, db, 'SELECT count("ua") FROM reading');
  const inDb = Number(res[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
  return { rate, sent, stored: inDb, cores };
}

/** Publish → WebSocket latency at a fixed rate (readings/s), optionally with extra WS clients. */
async function latency(mqttUrl: string, server: ServerProc, readingsPerSecond: number, extraClients: number): Promise<{ p50: number; p99: number; frames: number }> {
  const wsUrl = `${server.url.replace('http', 'ws')}/ws`;
  const extras: WebSocket[] = [];
  for (let i = 0; i < extraClients; i++) {
    const w = new WebSocket(wsUrl, { headers: { cookie: server.cookie } });
    w.on('message', () => undefined);
    extras.push(w);
  }
  await Promise.all(extras.map((w) => new Promise((r) => w.once('open', r))));
  // like dashboards: each watches one room of 10 meters at 10 frames/s
  extras.forEach((w, i) => w.send(JSON.stringify({ type: 'subscribe', devices: Array.from({ length: 10 }, (_, k) => `lat-m${((i * 10 + k) % 99) + 1}`), maxFps: 10 })));
  const probe = new WebSocket(wsUrl, { headers: { cookie: server.cookie } });
  await new Promise((r) => probe.once('open', r));
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  let frames = 0;
  probe.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (f.type !== 'readings') return;
    frames++;
    const now = performance.now();
    for (const r of f.readings) {
      if (r.device !== 'probe') continue;
      const t = sentAt.get(r.ts);
      if (t !== undefined) {
        lat.push(now - t);
        sentAt.delete(r.ts);
      }
    }
  });
  const pub = await mqtt.connectAsync(mqttUrl, { clientId: 'bench-latency' });
  const messagesPerSecond = readingsPerSecond / READINGS_PER_MESSAGE;
  const interval = 1000 / messagesPerSecond;
  let seq = 0;
  // each run's probe timestamps must be newer than the last run's: the live feed drops older ones as backfill
  let ts = Date.now();
  const until = Date.now() + SECONDS * 1000;
  let next = performance.now();
  while (Date.now() < until) {
    // one probe reading per message, first in the batch
    const payload = makeMessage('lat', seq, ts, { name: (i) => (i === 0 ? 'probe' : undefined) });
    seq += READINGS_PER_MESSAGE;
    sentAt.set(ts, performance.now());
    pub.publish(readingsTopic('bench', 'lat'), payload, { qos: 1 });
    ts += 1;
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await new Promise((r) => setTimeout(r, 1000));
  await pub.endAsync();
  probe.close();
  for (const w of extras) w.close();
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), frames };
}

async function main(cleanup: Cleanups): Promise<void> {
  console.log(`gridwatch bench — ${os.cpus().length} cores, ${SECONDS} s per stage\n`);
  const mosq: ServiceHandle = await startMosquitto({ extraConfig: ['max_queued_messages 0', 'max_inflight_messages 0'] });
  cleanup.push(() => mosq.stop());
  const influx: ServiceHandle = await startInfluxd();
  cleanup.push(() => influx.stop());

  const sample = makeMessage('agent-0', 0, Date.UTC(2026, 0, 1));
  const rawSmall = await mosquittoCeiling(mosq.url, 200);
  const rawBatch = await mosquittoCeiling(mosq.url, Buffer.byteLength(sample));
  console.log(`ceiling  Mosquitto QoS 1, 200 B messages          ${fmt(rawSmall)} msg/s`);
  console.log(`ceiling  Mosquitto QoS 1, ${fmt(Buffer.byteLength(sample))} B messages (100 readings) ${fmt(rawBatch)} msg/s = ${fmt(rawBatch * READINGS_PER_MESSAGE)} readings/s`);
  const ceiling = await influxCeiling(influx.url, influx.pid);
  const rawInflux = ceiling.rate;
  console.log(`ceiling  influxd /write, 10-field points           ${fmt(rawInflux)} points/s (influxd ${fmt(ceiling.cores, 2)} cores, ${fmt((ceiling.cores / rawInflux) * 1e6, 1)} µs CPU per point)\n`);

  const db = 'gridwatch_bench';
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-bench-'));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const server = await startServerProcess({
    GW_HTTP_PORT: '0',
    GW_MQTT_URL: mosq.url,
    GW_INFLUX_URL: influx.url,
    GW_INFLUX_DATABASE: db,
    GW_DATA_DIR: dataDir,
    GW_LIVE_MAX_FPS: String(LIVE_FPS),
  });
  cleanup.unshift(() => server.stop());

  const pids = { server: server.child.pid!, influxd: influx.pid, mosquitto: mosq.pid };
  const full = STAGES.includes('path') ? await wholePath(mosq.url, influx.url, server, db, 4, pids) : { rate: Number(process.env.GW_BENCH_RATE ?? 50_000), sent: 0, stored: 0, cores: {} };
  if (STAGES.includes('path')) console.log(`path     sustained through broker → server → influxd ${fmt(full.rate)} readings/s`);
  if (STAGES.includes('path')) console.log(`         = ${pct(full.rate, rawInflux)} of the raw influxd ceiling, ${pct(full.rate, rawBatch * READINGS_PER_MESSAGE)} of the broker ceiling`);
  if (STAGES.includes('path')) {
    console.log(`         sent ${fmt(full.sent)}, in InfluxDB ${fmt(full.stored)}, missing ${fmt(full.sent - full.stored)}`);
    const c = full.cores;
    console.log(`         CPU (cores): server ${fmt(c.server!, 2)} (its event loop busy ${pct(c.serverEventLoop!, 1)}), influxd ${fmt(c.influxd!, 2)}, mosquitto ${fmt(c.mosquitto!, 2)}, load generator ${fmt(c.bench!, 2)}`);
    console.log(`         CPU per reading: server ${fmt((c.server! / full.rate) * 1e6, 1)} µs, influxd ${fmt((c.influxd! / full.rate) * 1e6, 1)} µs\n`);
  }

  if (!STAGES.includes('latency')) return;
  const half = Math.max(READINGS_PER_MESSAGE, Math.floor(full.rate / 2));
  const l0 = await latency(mosq.url, server, half, 0);
  console.log(`(live feed at ${LIVE_FPS} frames/s per client)`);
  console.log(`latency  publish → WebSocket at ${fmt(half)} readings/s: p50 ${fmt(l0.p50, 1)} ms, p99 ${fmt(l0.p99, 1)} ms`);
  const l1 = await latency(mosq.url, server, half, 200);
  console.log(`latency  same, with 200 more WebSocket clients (10 meters, 10 frames/s each):     p50 ${fmt(l1.p50, 1)} ms, p99 ${fmt(l1.p99, 1)} ms (p99 ×${fmt(l1.p99 / l0.p99, 2)})`);
}

runBench(main);
