/**
 * Entry point of the edge agent: the only place that reads argv and the
 * environment, builds the logger, and handles signals.
 *
 *   tsx edge-agent/main.ts <config.yaml|config.json>     (or GW_AGENT_CONFIG=<path>)
 *
 * GW_LOG_LEVEL sets the log level (default info). GW_AGENT_STATS_MS, when
 * set, logs an `agent stats` line that often: cumulative polls, values (tags)
 * read, published readings, spool backlog, and this process's own CPU time
 * (process.cpuUsage) and memory — what bench/edge.ts reads. Exit code 2: the
 * config is missing or invalid; 1: the agent failed to start or stop.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { configFileArg } from '../contract/cli.ts';
import { createLogger, type Logger } from './log.ts';
import type { LoadedConfig } from './config-once.ts';

const USAGE = `usage: tsx edge-agent/main.ts <config.yaml|config.json>   (or GW_AGENT_CONFIG=<path>)

Polls the configured meters and publishes their readings over MQTT.
Environment: GW_LOG_LEVEL (default info), GW_AGENT_STATS_MS (log agent stats that often).
Exit codes: 0 stopped, 1 failed to start or stop, 2 bad arguments or config.
`;
const configArg = configFileArg(process.argv.slice(2), USAGE);
// CommonJS in the bundle (scripts/build-agent.ts): no top-level await
main().catch((err: unknown) => {
  process.stderr.write(`edge agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

async function main(): Promise<void> {
  // the agent's code is loaded once the command line is known good: --help and a bad option answer at once
  const [{ createAgent }, { loadConfigOnce }] = await Promise.all([import('./agent.ts'), import('./config-once.ts')]);

  // JSON lines on stdout in pino's format (edge-agent/log.ts); any field named password is written as [redacted]
  let root: Logger;
  try {
    root = createLogger({ level: process.env.GW_LOG_LEVEL ?? 'info' });
  } catch (err) {
    process.stderr.write(`GW_LOG_LEVEL: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = root.child({ component: 'edge-agent' });
  /** start-up phases, ms since the process started: node and the agent's code loaded, config read, agent started */
  const phases: Record<string, number> = { loaded: Math.round(performance.now()) };

  const path = configArg ?? process.env.GW_AGENT_CONFIG;
  if (!path) {
    log.fatal('no config: pass the config file path as the first argument or in GW_AGENT_CONFIG');
    process.exit(2);
  }

  let loaded: LoadedConfig;
  try {
    loaded = await loadConfigOnce(path);
    phases.config = Math.round(performance.now());
  } catch (err) {
    log.fatal({ err, path }, 'cannot load the agent config');
    process.exit(2);
  }

  const { config, profiles, dlt645Profiles } = loaded;
  const agent = createAgent(config, { log, profiles, dlt645Profiles });
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err }, 'edge agent failed to start');
    await agent.stop().catch(() => undefined);
    process.exit(1);
  }

  phases.started = Math.round(performance.now());

  // start-up time: from the process's start to the broker's PUBACK of the first meter readings, with
  // the phases on the way (MQTT connected, first meter reading in the spool). The spool's own report
  // is appended first and may be published alone before any meter has answered: the readings are
  // published in seq order, so the first meter reading is out once `published` covers what the
  // spool held when it was seen (after a restart with a backlog, earlier readings may be counted
  // too: the figure is then an early bound).
  let firstReadingCount = 0;
  const firstPublish = setInterval(() => {
    const st = agent.progress();
    const now = Math.round(performance.now());
    if (phases.mqttConnected === undefined && st.connects > 0) phases.mqttConnected = now;
    if (phases.firstReading === undefined && st.appended > 1) {
      phases.firstReading = now;
      firstReadingCount = st.appended;
    }
    if (phases.firstReading === undefined || st.published < firstReadingCount) return;
    clearInterval(firstPublish);
    // the CPU the start took (this process, all threads): on a loaded box the wall time mostly measures the others
    const cpu = process.cpuUsage();
    log.info({ sinceProcessStartMs: now, cpuMs: Math.round((cpu.user + cpu.system) / 1000), phasesMs: phases }, 'first readings published');
  }, 20);
  firstPublish.unref();

  // once every meter has been polled: one line with how many answered and which did not (a meter's
  // first good answer is logged at debug only; one that does not answer has its own warning too)
  const firstPoll = setInterval(() => {
    if (agent.totals().unknown > 0) return;
    clearInterval(firstPoll);
    const devices = Object.entries(agent.stats().devices);
    if (devices.length === 0) return;
    const down = devices.filter(([, d]) => d.state !== 'good').map(([id]) => id);
    const fields = { devices: devices.length, good: devices.length - down.length, notAnswering: down.slice(0, 50), ...(down.length > 50 ? { notAnsweringMore: down.length - 50 } : {}) };
    if (down.length > 0) log.warn(fields, 'every device polled once');
    else log.info(fields, 'every device polled once');
  }, 200);
  firstPoll.unref();

  /** where the memory is: resident, V8 heap, and off-heap (Buffers) */
  function memory(): Record<string, number> {
    const m = process.memoryUsage();
    return { rssBytes: m.rss, heapTotalBytes: m.heapTotal, heapUsedBytes: m.heapUsed, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
  }

  const statsMs = Number(process.env.GW_AGENT_STATS_MS ?? 0);
  if (Number.isInteger(statsMs) && statsMs > 0) {
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let elu = performance.eventLoopUtilization();
    setInterval(() => {
      // the sums only: a copy of every device's stats each time would be garbage of its own with a thousand meters
      const st = agent.totals();
      const cpu = process.cpuUsage();
      log.info(
        {
          polls: st.polls,
          good: st.good,
          commLoss: st.commLoss,
          skipped: st.skipped,
          values: st.values,
          published: st.published,
          unsent: st.unsent,
          unacked: st.unacked,
          cpuUserUs: cpu.user,
          cpuSystemUs: cpu.system,
          ...memory(),
          // since the previous line: how busy the event loop was, and its worst stall
          loopBusy: Number(performance.eventLoopUtilization(elu).utilization.toFixed(3)),
          loopDelayMaxMs: Math.round(loop.max / 1e6),
          loopDelayP99Ms: Math.round(loop.percentile(99) / 1e6),
          atMs: Math.round(performance.now()),
        },
        'agent stats',
      );
      elu = performance.eventLoopUtilization();
      loop.reset();
    }, statsMs).unref();
  }

  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      agent.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'edge agent failed to stop cleanly');
          process.exit(1);
        },
      );
    });
  }
}
