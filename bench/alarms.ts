/**
 * Alarm latency benchmark: publish → alarm on the WebSocket, p50 /
 * p99, at half the sustained ingest rate, with 1 % of readings crossing a
 * limit. Real Mosquitto, real influxd, the real server process
 * (server/main.ts) with the built-in GB/T rules plus one threshold the
 * crossing readings exceed. Nothing here asserts a time: the machine is
 * shared and noisy; the figures go into docs/performance.md.
 *
 *   npx tsx bench/alarms.ts
 *   GW_BENCH_SECONDS=10     length of each measured stage (default 8)
 *   GW_BENCH_RATE=20000     ingest rate of the latency stage in readings/s (default: half the sustained rate measured first)
 *   GW_BENCH_WARMUP=3       seconds the latency stage publishes before it measures (default 3; reported apart)
 *   GW_BENCH_DUMP=file      writes each raise's publish time (epoch ms) and latency (ms), to see whether the tail comes in clusters
 *   GW_BENCH_HEAP=file      the server's allocations during the measured latency stage (bench/tools/heap-sampling.ts)
 *   GW_BENCH_SERVER_ENV, GW_BENCH_NODE_FLAGS, GW_BENCH_PROFILE, GW_BENCH_SERVER_STDOUT: see bench/support.ts
 *
 * Each message is one agent's poll cycle of 100 meters (as in bench/run.ts);
 * in every message one meter reads over the limit (1 %) and the meter that
 * crossed in the message before reads normal again, so every message raises
 * one alarm and clears one. The latency of an alarm is from the publish of
 * its reading to the `alarm` frame (raise) of that meter and timestamp on a
 * WebSocket client. Every frame's seq is checked for gaps.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { readingsTopic } from '../contract/index.ts';
import { startInfluxd, startMosquitto, type ServiceHandle } from '../test/harness/index.ts';
import { cpuMeter, runQueueMeter, machineMeter, fmt, quantile, serverMetric, serverMetrics, startServerProcess, type ServerProc, runBench, type Cleanups, heapSampling, makeMessage, BENCH_VALUES, READINGS_PER_MESSAGE } from './support.ts';

const SECONDS = Number(process.env.GW_BENCH_SECONDS ?? 8);
const FIXED_RATE = process.env.GW_BENCH_RATE ? Number(process.env.GW_BENCH_RATE) : undefined;
/**
 * The latency stage's meters are new to the server: their first seconds
 * build rule state, baselines and series keys and run code not yet optimised
 * for them. That is measured too, but apart from the steady state.
 */
const WARMUP_S = Number(process.env.GW_BENCH_WARMUP ?? 3);
/** the values of a meter over the limit (ib) */
const HOT_JSON = JSON.stringify({ ...BENCH_VALUES, ib: 612.5 });
const LIMIT_A = 500;
/** live-value frames per second per client, as in bench/run.ts: a value waits at most 1/LIVE_FPS for its frame; alarm frames never wait */
const LIVE_FPS = Number(process.env.GW_BENCH_LIVE_FPS ?? 100);

const RULES = `
version: 1
useDefaults: true            # GB/T 12325, 15543, 15945, outage, comm-loss … all evaluated on every reading
rules:
  - id: comm-loss
    afterS: 3600             # the publishers stop at the end of each stage: no comm-loss flood afterwards
  - id: bench-over-current
    kind: threshold
    quantity: [ia, ib, ic]
    levels: { hi: { value: ${LIMIT_A}, severity: high } }
`;




/** Full speed, no crossings: 4 publishers, 20 messages in flight each; readings/s stored. */
async function sustained(mqttUrl: string, server: ServerProc): Promise<number> {
  const pubs = await Promise.all(Array.from({ length: 4 }, (_, a) => mqtt.connectAsync(mqttUrl, { clientId: `bench-sus-${a}` })));
  const stored0 = await serverMetric(server, 'gridwatch_readings_stored_total');
  let sent = 0;
  const until = Date.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    pubs.map(async (pub, a) => {
      const agent = `sus-${a}`;
      let seq = 0;
      let ts = Date.now();
      let inflight = 0;
      await new Promise<void>((resolve) => {
        const pump = () => {
          while (inflight < 20 && Date.now() < until) {
            ts = Math.max(ts + 1, Date.now());
            const payload = makeMessage(agent, seq, ts);
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
  for (;;) {
    if ((await serverMetric(server, 'gridwatch_readings_stored_total')) - stored0 >= sent) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const rate = sent / ((performance.now() - t0) / 1000);
  await Promise.all(pubs.map((p) => p.endAsync()));
  return rate;
}

interface LatencyResult {
  rate: number;
  /** publish → the same message's value of meter 0 in a `readings` frame (live feed at LIVE_FPS), for comparison */
  live: { p50: number; p99: number };
  raises: number;
  received: number;
  /** messages published in the stage (warm-up included), and how many the server counted in */
  published: number;
  messagesIn: number;
  /** the raises published during the warm-up: count, p99 and max latency */
  warmup: { raises: number; p99: number; max: number };
  p50: number;
  p99: number;
  max: number;
  frames: number;
  gaps: number;
  /** the server's event-loop delay while the stage ran, ms */
  loop: { p99: number; max: number; benchP99: number; benchMax: number };
  /** cores used per process while the stage ran */
  cores: Record<string, number>;
  /** the machine's busy and stolen cores while the stage ran */
  machine: { busy: number; steal: number };
  /** the server's event-loop thread runnable but waiting for a CPU: ms per second, and how many times it was put on one (null: not Linux) */
  waited: { msPerS: number; slices: number } | null;
  /** the server's garbage collections while the stage ran, by kind: count and mean pause, ms */
  gc: Record<string, { count: number; mean: number }>;
}

const GC_KINDS = ['minor', 'major', 'incremental'] as const;
/** the server's GC pauses so far (prom-client's nodejs_gc_duration_seconds): count and seconds per kind */
const GC_METRICS = GC_KINDS.flatMap((k) => [`nodejs_gc_duration_seconds_count\\{kind="${k}"\\}`, `nodejs_gc_duration_seconds_sum\\{kind="${k}"\\}`]);

/**
 * After the full-speed stage influxd compacts what it was sent for a while
 * (a second core busy); a steady half rate does not carry that backlog.
 * Waits until influxd uses under 0.1 core over a second (at most a minute).
 */
async function settle(pids: Record<string, number>): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < 60_000) {
    const cpu = cpuMeter({ influxd: pids.influxd! });
    await new Promise((r) => setTimeout(r, 1000));
    if (cpu().influxd! < 0.1) break;
  }
  return (performance.now() - t0) / 1000;
}

/** `rate` readings/s in messages of 100 with one crossing each; latency of each raise to the WebSocket. */
async function latency(mqttUrl: string, server: ServerProc, rate: number, pids: Record<string, number>): Promise<LatencyResult> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, { headers: { cookie: server.cookie } });
  await new Promise((r) => ws.once('open', r));
  /** publish time of each raise, and whether it was published while measuring */
  const sentAt = new Map<string, { t: number; measured: boolean }>();
  const lat: number[] = [];
  const warmLat: number[] = [];
  const series: [number, number][] = [];
  const framesBySource = new Map<string, string[]>();
  const msgAt = new Map<number, number>();
  const liveLat: number[] = [];
  let frames = 0;
  let lastSeq: number | null = null;
  let gaps = 0;
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    const now = performance.now();
    if (f.type === 'readings') {
      for (const r of f.readings) {
        if (r.device !== 'lat-m0') continue;
        const t = msgAt.get(r.ts);
        if (t !== undefined) liveLat.push(now - t);
        msgAt.delete(r.ts);
      }
      return;
    }
    if (f.type !== 'alarm' && f.type !== 'alarm_escalation' && f.type !== 'alarm_rules') return;
    frames++;
    if (lastSeq !== null && f.seq !== lastSeq + 1) gaps++;
    lastSeq = f.seq;
    if (f.type === 'alarm') (framesBySource.get(f.transition.source) ?? framesBySource.set(f.transition.source, []).get(f.transition.source)!).push(`${f.transition.reason}@${f.transition.at}`);
    if (f.type !== 'alarm' || f.transition.reason !== 'raise') return;
    const key = `${f.transition.source}@${f.transition.at}`;
    const sent = sentAt.get(key);
    if (sent !== undefined) {
      if (!sent.measured) warmLat.push(now - sent.t);
      else {
        lat.push(now - sent.t);
        if (process.env.GW_BENCH_DUMP) series.push([sent.t, now - sent.t]);
      }
      sentAt.delete(key);
    }
  });
  const agent = 'lat';
  const pub = await mqtt.connectAsync(mqttUrl, { clientId: 'bench-alarm-latency' });
  const interval = 1000 / (rate / READINGS_PER_MESSAGE);
  let seq = 0;
  let ts = Date.now();
  let k = 0;
  let prevHot = -1;
  let raises = 0;
  let warmRaises = 0;
  let measuring = false;
  let next = performance.now();
  const publishFor = async (seconds: number): Promise<void> => {
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      ts = Math.max(ts + 1, Date.now());
      const hot = (k++ * 37) % READINGS_PER_MESSAGE;
      // the meter that crossed in the message before reads normal again: a new one crosses
      const over = hot !== prevHot ? hot : -1;
      const payload = makeMessage(agent, seq, ts, { values: (i) => (i === over ? HOT_JSON : undefined) });
      seq += READINGS_PER_MESSAGE;
      if (over >= 0) {
        sentAt.set(`${agent}-m${hot}@${ts}`, { t: performance.now(), measured: measuring });
        if (measuring) raises++;
        else warmRaises++;
      }
      prevHot = hot;
      if (measuring) msgAt.set(ts, performance.now());
      pub.publish(readingsTopic('bench', agent), payload, { qos: 1 });
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  const messagesIn0 = await serverMetric(server, 'gridwatch_messages_in_total');
  await publishFor(WARMUP_S);
  measuring = true;
  const cpu = cpuMeter({ ...pids, bench: process.pid });
  const runQueue = runQueueMeter(server.child.pid!);
  const mach = machineMeter();
  // the server's loop-delay histogram restarts at each scrape: this one starts the stage's
  const gc0 = await serverMetrics(server, GC_METRICS);
  // this process receives the frames: its own delays are in every figure it takes
  const benchLoop = monitorEventLoopDelay({ resolution: 1 });
  benchLoop.enable();
  heapSampling(server);
  await publishFor(SECONDS);
  heapSampling(server);
  // one scrape: the event-loop histogram restarts at each
  const [p99, max, ...gc1] = await serverMetrics(server, ['nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds', ...GC_METRICS]);
  const gc = Object.fromEntries(
    GC_KINDS.map((k, i) => {
      const count = gc1[2 * i]! - gc0[2 * i]!;
      return [k, { count, mean: count ? ((gc1[2 * i + 1]! - gc0[2 * i + 1]!) * 1000) / count : 0 }];
    }),
  );
  const cores = cpu();
  const waited = runQueue();
  const machine = mach();
  benchLoop.disable();
  const loop = { p99: p99! * 1000, max: max! * 1000, benchP99: benchLoop.percentile(99) / 1e6, benchMax: benchLoop.max / 1e6 };
  if (process.env.GW_BENCH_DUMP) await writeFile(process.env.GW_BENCH_DUMP, series.map(([t, l]) => `${(performance.timeOrigin + t).toFixed(1)} ${l.toFixed(2)}`).join('\n'));
  await new Promise((r) => setTimeout(r, 2000));
  // every message published reached the server (or not): tells a lost message from a message whose alarm was lost
  const messagesIn = (await serverMetric(server, 'gridwatch_messages_in_total')) - messagesIn0;
  await pub.endAsync();
  ws.close();
  for (const [key, v] of [...sentAt].filter(([, v]) => v.measured).slice(0, 3)) {
    const src = key.split('@')[0]!;
    const at = Number(key.split('@')[1]);
    const same = [...framesBySource].flatMap(([s2, fs]) => fs.filter((x) => Math.abs(Number(x.split('@')[1]) - at) <= 2).map((x) => `${s2}:${x}`));
    const sent = [...sentAt.keys()].filter((k2) => Math.abs(Number(k2.split('@')[1]) - at) <= 2);
    process.stderr.write(`unmatched raise ${key}: frames within 2 ms of its ts: ${same.join(' ')}; unmatched sent within 2 ms: ${sent.join(' ')}\n`);
  }
  const warmup = { raises: warmRaises, p99: quantile(warmLat, 0.99), max: Math.max(...warmLat) };
  return { loop, cores, machine, rate, warmup, published: seq / READINGS_PER_MESSAGE, messagesIn, live: { p50: quantile(liveLat, 0.5), p99: quantile(liveLat, 0.99) }, raises, received: lat.length, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: Math.max(...lat), frames, gaps, gc, waited };
}

async function main(cleanup: Cleanups): Promise<void> {
  console.log(`gridwatch alarm bench — ${os.cpus().length} cores, ${SECONDS} s per stage\n`);
  const mosq: ServiceHandle = await startMosquitto({ extraConfig: ['max_queued_messages 0', 'max_inflight_messages 0'] });
  cleanup.push(() => mosq.stop());
  const influx: ServiceHandle = await startInfluxd();
  cleanup.push(() => influx.stop());
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-bench-alarms-'));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const rulesFile = path.join(dataDir, 'bench-rules.yaml');
  await writeFile(rulesFile, RULES);
  const server = await startServerProcess({
    GW_HTTP_PORT: '0',
    GW_MQTT_URL: mosq.url,
    GW_INFLUX_URL: influx.url,
    GW_INFLUX_DATABASE: 'gridwatch_bench_alarms',
    GW_DATA_DIR: dataDir,
    GW_RULES_FILE: rulesFile,
    GW_LIVE_MAX_FPS: String(LIVE_FPS),
  });
  cleanup.unshift(() => server.stop());

  let rate = FIXED_RATE;
  if (rate === undefined) {
    const full = await sustained(mosq.url, server);
    console.log(`sustained  broker → server (all default rules) → influxd: ${fmt(full)} readings/s`);
    rate = Math.max(READINGS_PER_MESSAGE, Math.floor(full / 2 / READINGS_PER_MESSAGE) * READINGS_PER_MESSAGE);
  }
  const pids = { server: server.child.pid!, influxd: influx.pid, mosquitto: mosq.pid };
  if (FIXED_RATE === undefined) console.log(`           influxd settled after ${fmt(await settle(pids), 1)} s`);
  const r = await latency(mosq.url, server, rate, pids);
  console.log(`latency    publish → alarm on WebSocket at ${fmt(r.rate)} readings/s, 1 % over the limit (${fmt(r.rate / 100)} raises/s + as many clears):`);
  console.log(`           p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, max ${fmt(r.max, 1)} ms (target p99 < 25 ms), over ${SECONDS} s`);
  console.log(`           the ${WARMUP_S} s before, while the server first met these meters (not in the figures above): p99 ${fmt(r.warmup.p99, 1)} ms, max ${fmt(r.warmup.max, 1)} ms over ${fmt(r.warmup.raises)} raises`);
  // conflated: a value superseded before its frame is not counted, so this tail is flattered; every raise is counted above
  console.log(`           for comparison, the same messages' live values (frames at ${LIVE_FPS}/s, conflated): p50 ${fmt(r.live.p50, 1)} ms, p99 ${fmt(r.live.p99, 1)} ms`);
  console.log(`           event-loop delay: server p99 ${fmt(r.loop.p99, 1)} ms, max ${fmt(r.loop.max, 1)} ms; this bench (publisher and receiver) p99 ${fmt(r.loop.benchP99, 1)} ms, max ${fmt(r.loop.benchMax, 1)} ms`);
  // scavenges (minor) stop the loop that delivers alarms; incremental marking runs in steps and ends in a major pause
  console.log(`           server GC: ${GC_KINDS.map((k) => `${r.gc[k]!.count} ${k}, mean ${fmt(r.gc[k]!.mean, 1)} ms`).join('; ')}`);
  // the loop that delivers alarms waits behind other threads when the machine's cores are busy (server/priority.ts)
  if (r.waited) console.log(`           server event-loop thread waited for a CPU ${fmt(r.waited.msPerS, 1)} ms per second, over ${fmt(r.waited.slices)} times it ran`);
  console.log(`           CPU (cores): ${Object.entries(r.cores).map(([k, c]) => `${k} ${fmt(c, 2)}`).join(', ')}`);
  console.log(`           machine: ${fmt(r.machine.busy, 2)} of ${os.cpus().length} cores busy, ${fmt(r.machine.steal, 2)} cores stolen by the host (steal); load average ${os.loadavg().map((x) => fmt(x, 2)).join(', ')}`);
  console.log(`           raises sent ${fmt(r.raises)}, received ${fmt(r.received)}; alarm frames ${fmt(r.frames)}, seq gaps ${r.gaps}; messages published ${fmt(r.published)}, taken in by the server ${fmt(r.messagesIn)}`);
}

runBench(main);
