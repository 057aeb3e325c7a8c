/**
 * Dashboard benchmark (run by hand, not in the test suite):
 *
 *   npx tsx bench/dashboard.ts
 *   GW_BENCH_SECONDS=15 npx tsx bench/dashboard.ts     shorter measured stages
 *
 * A real server (embedded broker and store, production live settings) with
 * 500 transformers in 125 rooms — one of them a room of 24 outgoing lines —
 * 2,508 meters in all, every one publishing at 1 Hz through MQTT. Debian
 * Chromium opens, each for GW_BENCH_SECONDS (default 60):
 *   1. the overview (all 500 transformers and their lines live),
 *   2. the room of 24 lines,
 *   3. charts: 6 charts of 10 series (10 lines × ua, ia, p, load_rate, pf, f).
 * and measures, in the page: frame times (requestAnimationFrame deltas), long
 * tasks (PerformanceObserver 'longtask', > 50 ms), and the main thread's busy
 * share (Chrome's TaskDuration over wall time, via the DevTools protocol).
 * The publisher and the server run in this process, on the same machine:
 * the figures are for a loaded machine, not a quiet one.
 *
 *   GW_BENCH_TRACE=1 …   also records a Chromium trace of each stage and
 *                        prints what the long tasks spent their time on
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import mqtt from 'mqtt';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { readingsTopic } from '../contract/index.ts';
import { createMeterModel, type MeterModel } from '../simulators/index.ts';
import { launchChromium, screenshotPath } from '../test/support/browser.ts';
import { TEST_PASSWORD, startTestServer } from '../test/support/server.ts';

const SECONDS = Number(process.env.GW_BENCH_SECONDS ?? 60);
const TRACE = process.env.GW_BENCH_TRACE === '1';
const ROOMS = 125;
const TRANSFORMERS_PER_ROOM = 4;
const LINES_PER_TRANSFORMER = 4;
/** room 0: 4 transformers × 6 lines = the room of 24 lines */
const BIG_ROOM_LINES_PER_TRANSFORMER = 6;
const WIRE = ['ua', 'ub', 'uc', 'uab', 'ubc', 'uca', 'ia', 'ib', 'ic', 'in', 'p', 'pa', 'pb', 'pc', 'q', 's', 'pf', 'f', 'ep_imp', 'ep_exp'] as const;

interface Meter {
  id: string;
  room: number;
  model: MeterModel;
}

function topology(): { yaml: string; meters: Meter[]; bigRoomLines: string[] } {
  const meters: Meter[] = [];
  const bigRoomLines: string[] = [];
  const lines: string[] = ['sites:'];
  const roomsPerSite = 25;
  for (let s = 0; s < ROOMS / roomsPerSite; s++) {
    lines.push(`  - id: s${s}`, `    name: 供电所${s + 1}`, '    rooms:');
    for (let rr = 0; rr < roomsPerSite; rr++) {
      const r = s * roomsPerSite + rr;
      lines.push(`      - id: r${r}`, `        name: 配电房${r + 1}`, `        agent: a${r}`, '        transformers:');
      for (let t = 0; t < TRANSFORMERS_PER_ROOM; t++) {
        const tm = `m${r}-t${t}`;
        meters.push({ id: tm, room: r, model: createMeterModel({ profile: 'feeder', seed: meters.length + 1 }) });
        lines.push(`          - id: t${r}-${t}`, `            name: ${t + 1}#配变`, '            ratedKva: 630', `            meter: ${tm}`, '            lines:');
        const n = r === 0 ? BIG_ROOM_LINES_PER_TRANSFORMER : LINES_PER_TRANSFORMER;
        for (let l = 0; l < n; l++) {
          const lm = `m${r}-t${t}-l${l}`;
          meters.push({ id: lm, room: r, model: createMeterModel({ profile: l % 2 ? 'commercial' : 'residential', seed: meters.length + 1 }) });
          if (r === 0) bigRoomLines.push(lm);
          lines.push(`              - { id: l${r}-${t}-${l}, name: ${l + 1}号出线, ratedCurrentA: 250, meter: ${lm} }`);
        }
      }
    }
  }
  return { yaml: lines.join('\n'), meters, bigRoomLines };
}

/** One MQTT client per room (an agent), each publishing its meters once a second. */
async function startPublishers(url: string, meters: Meter[]): Promise<{ stop(): Promise<void>; published: () => number }> {
  const byRoom = new Map<number, Meter[]>();
  for (const m of meters) byRoom.set(m.room, [...(byRoom.get(m.room) ?? []), m]);
  const client = await mqtt.connectAsync(url, { clientId: `bench-dashboard-${process.pid}` });
  let seq = 0;
  let published = 0;
  const tick = () => {
    const now = Date.now();
    for (const [room, ms] of byRoom) {
      const readings = ms.map((m) => {
        const v = m.model.sample(now);
        return { device: m.id, ts: now, seq: seq++, q: 'good', v: Object.fromEntries(WIRE.map((q) => [q, Math.round(v[q] * 100) / 100])) };
      });
      client.publish(readingsTopic(`s${Math.floor(room / 25)}`, `a${room}`), JSON.stringify({ agent: `a${room}`, readings }), { qos: 1 });
      published += readings.length;
    }
  };
  tick();
  const timer = setInterval(tick, 1000);
  return {
    published: () => published,
    async stop() {
      clearInterval(timer);
      await client.endAsync();
    },
  };
}

const PROBE = `
  window.__gwBench = { frames: [], longtasks: [], longtaskAt: [], last: 0, on: false, t0: 0 };
  new PerformanceObserver((list) => {
    if (window.__gwBench.on) for (const e of list.getEntries()) { window.__gwBench.longtasks.push(e.duration); window.__gwBench.longtaskAt.push(Math.round((e.startTime - window.__gwBench.t0) / 1000)); }
  }).observe({ type: 'longtask', buffered: false });
  const loop = (t) => {
    const b = window.__gwBench;
    if (b.on && b.last) b.frames.push(t - b.last);
    b.last = t;
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
`;

interface Figures {
  stage: string;
  frames: number;
  frameMean: number;
  frameP95: number;
  frameP99: number;
  frameMax: number;
  framesOver50: number;
  longTasks: number;
  longTaskMax: number;
  busyShare: number;
  scriptShare: number;
  layoutShare: number;
  styleShare: number;
  longTaskShare: number;
  heapMb: number;
  domNodes: number;
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function measure(page: Page, stage: string): Promise<Figures> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async () => {
    const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: Array<{ name: string; value: number }> };
    const get = (n: string) => metrics.find((m) => m.name === n)?.value ?? 0;
    return { task: get('TaskDuration'), script: get('ScriptDuration'), layout: get('LayoutDuration'), style: get('RecalcStyleDuration'), ts: get('Timestamp'), heap: get('JSHeapUsedSize'), nodes: get('Nodes') };
  };
  await page.evaluate(() => {
    const b = (window as unknown as { __gwBench: { frames: number[]; longtasks: number[]; longtaskAt: number[]; on: boolean; last: number; t0: number } }).__gwBench;
    b.frames = [];
    b.longtasks = [];
    b.longtaskAt = [];
    b.t0 = performance.now();
    b.last = 0;
    b.on = true;
  });
  const m0 = await metric();
  if (TRACE) await page.context().browser()!.startTracing(page, { categories: ['devtools.timeline', 'v8', 'disabled-by-default-devtools.timeline'] });
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const m1 = await metric();
  if (TRACE) explainLongTasks(stage, await page.context().browser()!.stopTracing());
  const { frames, longtasks, longtaskAt } = await page.evaluate(() => {
    const b = (window as unknown as { __gwBench: { frames: number[]; longtasks: number[]; longtaskAt: number[]; on: boolean } }).__gwBench;
    b.on = false;
    return { frames: b.frames, longtasks: b.longtasks, longtaskAt: b.longtaskAt };
  });
  if (longtasks.length) console.log(`${stage}: long tasks (s into the stage: ms) ${longtasks.map((d, i) => `${longtaskAt[i]}: ${Math.round(d)}`).join(', ')}`);
  await cdp.detach();
  const wall = m1.ts - m0.ts;
  return {
    stage,
    frames: frames.length,
    frameMean: frames.reduce((a, b) => a + b, 0) / Math.max(1, frames.length),
    frameP95: quantile(frames, 0.95),
    frameP99: quantile(frames, 0.99),
    frameMax: Math.max(0, ...frames),
    framesOver50: frames.filter((f) => f > 50).length,
    longTasks: longtasks.length,
    longTaskMax: Math.max(0, ...longtasks),
    busyShare: (m1.task - m0.task) / wall,
    scriptShare: (m1.script - m0.script) / wall,
    layoutShare: (m1.layout - m0.layout) / wall,
    styleShare: (m1.style - m0.style) / wall,
    longTaskShare: longtasks.reduce((a, b) => a + b, 0) / 1000 / wall,
    heapMb: m1.heap / 1e6,
    domNodes: m1.nodes,
  };
}

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: { name?: string };
}

/** For each main-thread task over 50 ms in the trace: its length and the events inside it that took longest. */
function explainLongTasks(stage: string, trace: Buffer): void {
  const events = (JSON.parse(trace.toString('utf8')) as { traceEvents: TraceEvent[] }).traceEvents;
  const main = events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  if (!main) return;
  const mine = events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur !== undefined);
  const tasks = mine.filter((e) => e.name === 'RunTask' && e.dur! > 50_000);
  console.log(`${stage}: ${tasks.length} main-thread tasks over 50 ms in the trace`);
  for (const task of tasks) {
    const inside = mine.filter((e) => e !== task && e.ts >= task.ts && e.ts + e.dur! <= task.ts + task.dur! && e.name !== 'RunTask');
    const byName = new Map<string, number>();
    for (const e of inside) byName.set(e.name, Math.max(byName.get(e.name) ?? 0, e.dur!));
    const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 5);
    console.log(`  ${(task.dur! / 1000).toFixed(0)} ms: ${top.map(([n, d]) => `${n} ${(d / 1000).toFixed(1)}`).join(', ')}`);
  }
}

async function gzippedSizes(dir: string): Promise<Array<{ file: string; bytes: number; gzip: number }>> {
  const out = [];
  for (const f of ['index.html', ...(await readdir(path.join(dir, 'assets'))).map((a) => `assets/${a}`)]) {
    const buf = await readFile(path.join(dir, f));
    out.push({ file: f, bytes: buf.length, gzip: gzipSync(buf, { level: 9 }).length });
  }
  return out;
}

async function main(): Promise<void> {
  const dashboardDir = path.join(os.tmpdir(), `gw-bench-dashboard-${process.pid}`);
  await build({ configFile: path.resolve('dashboard/vite.config.ts'), logLevel: 'silent', build: { outDir: dashboardDir, emptyOutDir: true } });
  const sizes = await gzippedSizes(dashboardDir);
  const { yaml, meters, bigRoomLines } = topology();
  console.log(`topology: ${ROOMS} rooms, ${ROOMS * TRANSFORMERS_PER_ROOM} transformers, ${meters.length - ROOMS * TRANSFORMERS_PER_ROOM} lines, ${meters.length} meters at 1 Hz; ${SECONDS} s per stage`);
  // a slow live rate (live.maxFps 4; the server's default is 10, docs/configuration.md), not the tests' 20
  // one publisher speaks for every room's agent: the embedded broker lets it only with anonymous access (loopback, bench only)
  const ts = await startTestServer({
    topologyYaml: yaml,
    extra: { dashboardDir, live: { maxFps: 4 }, ingest: { flushIntervalMs: 100 }, mqtt: { embedded: { host: '127.0.0.1', port: 0, allowAnonymous: true } } },
  });
  const pub = await startPublishers(ts.server.mqttUrl, meters);
  const browser = await launchChromium();
  const results: Figures[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.addInitScript(PROBE);
    await page.goto(`${ts.server.url}/#/overview`);
    await page.fill('input[name="username"]', 'viewer');
    await page.fill('input[name="password"]', TEST_PASSWORD);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#conn[data-state="open"]');
    // every meter counted live (rows off screen are painted only when scrolled to, so count from the page's own figures)
    await page.waitForFunction(() => document.querySelectorAll('.lrow.q-good').length > 20 && document.querySelector('.summary [data-k="comm_loss"] b')?.textContent === '0', null, { timeout: 60_000 });
    results.push(await measure(page, 'overview: 500 transformers, 2,008 lines'));
    await page.screenshot({ path: await screenshotPath('bench-overview') });

    await page.goto(`${ts.server.url}/#/room/s0/r0`);
    await page.waitForFunction(() => document.querySelectorAll('table.lines tr.q-good').length === 24, null, { timeout: 30_000 });
    results.push(await measure(page, 'room: 24 lines + 4 transformers'));
    await page.screenshot({ path: await screenshotPath('bench-room'), fullPage: true });

    const devices = bigRoomLines.slice(0, 10).join(',');
    await page.goto(`${ts.server.url}/#/charts?d=${devices}&q=ua,ia,p,load_rate,pf,f&w=15m`);
    await page.waitForFunction(() => document.querySelectorAll('.chart[data-state="live"]').length === 6, null, { timeout: 30_000 });
    const series = await page.$$eval('.chart', (cs) => cs.map((c) => Number(c.getAttribute('data-series'))));
    if (series.length !== 6 || series.some((n) => n !== 10)) throw new Error(`expected 6 charts of 10 series, got ${series.join(',')}`);
    results.push(await measure(page, 'charts: 6 × 10 series, 15 min'));
    await page.screenshot({ path: await screenshotPath('bench-charts'), fullPage: true });
    const points = await page.$$eval('.chart', (cs) => cs.reduce((n, c) => n + Number(c.getAttribute('data-points')), 0));
    console.log(`charts hold ${points} points after the stage`);
  } finally {
    await browser.close();
    await pub.stop();
    console.log(`readings published: ${pub.published()}`);
    await ts.close();
    await rm(dashboardDir, { recursive: true, force: true });
  }

  const f1 = (n: number) => n.toFixed(1);
  console.log('\nstage                                     frames  mean ms  p95 ms  p99 ms  max ms  >50ms  longtasks  max longtask ms  main-thread busy  (longtask share)  heap MB  DOM nodes');
  for (const r of results)
    console.log(
      `${r.stage.padEnd(42)}${String(r.frames).padStart(6)}${f1(r.frameMean).padStart(9)}${f1(r.frameP95).padStart(8)}${f1(r.frameP99).padStart(8)}${f1(r.frameMax).padStart(8)}${String(r.framesOver50).padStart(7)}${String(r.longTasks).padStart(11)}${f1(r.longTaskMax).padStart(17)}${`${f1(r.busyShare * 100)} %`.padStart(18)}${`${f1(r.longTaskShare * 100)} %`.padStart(19)}${f1(r.heapMb).padStart(9)}${String(r.domNodes).padStart(11)}`,
    );
  console.log('\nmain-thread busy share by kind (Chrome Performance.getMetrics):');
  for (const r of results)
    console.log(`  ${r.stage.padEnd(42)} script ${f1(r.scriptShare * 100)} %, style ${f1(r.styleShare * 100)} %, layout ${f1(r.layoutShare * 100)} %, other ${f1((r.busyShare - r.scriptShare - r.styleShare - r.layoutShare) * 100)} %`);
  console.log('\nbuilt page (gzip -9):');
  for (const s of sizes) console.log(`  ${s.file.padEnd(34)} ${(s.bytes / 1024).toFixed(1).padStart(7)} kB  gzip ${(s.gzip / 1024).toFixed(1).padStart(6)} kB`);
  console.log(`  total gzip ${(sizes.reduce((a, s) => a + s.gzip, 0) / 1024).toFixed(1)} kB`);
}

await main();
