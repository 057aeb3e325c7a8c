/**
 * Drivers for the fault tests: the server as a real child process (so it
 * can be killed with SIGKILL mid-write), a fleet of agent-shaped MQTT feeds,
 * and the comparison of the alarm set with what the readings say.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { agentStateTopic, SERVER_STATE_TOPIC, TOPIC_ROOT } from '../../contract/index.ts';
import { influxQuery, startMosquitto } from '../harness/index.ts';
import { TEST_PASSWORD } from '../support/server.ts';
import { ServerProcess } from '../support/server-process.ts';
import { oneRoomTopology, type Feed } from './helpers.ts';


export interface ChildServerOptions {
  mqttUrl: string;
  /** a fixed MQTT client id: the same persistent session across restarts */
  clientId: string;
  sites: string[];
  topologyYaml: string;
  rulesYaml: string;
  influxUrl?: string;
  database?: string;
  alarms?: Record<string, unknown>;
}

/** `server/main.ts` as a child process (ServerProcess) with a config file in a data dir that outlives each process. */
/** The default rules with comm-loss after `afterS` seconds of silence. */
export function commLossRules(afterS: number): string {
  return `
version: 1
useDefaults: true
rules:
  - id: comm-loss
    afterS: ${afterS}
`;
}

/**
 * A private Mosquitto and a child-process server on it (not started) for one
 * site of `meters` meters (`<site>-m01`…) in one room, agent
 * `<site>-agent-<pid>`, its own database; both are pushed on `open` to be
 * closed after the test.
 */
export async function privateSite(
  o: { site: string; name: string; meters: number; rulesYaml: string; influxUrl: string },
  open: Array<{ close(): Promise<void> }>,
) {
  const agent = `${o.site}-agent-${process.pid}`;
  const db = `faults_${o.site.replace(/-/g, '_')}_${process.pid}`;
  const meters = Array.from({ length: o.meters }, (_, i) => `${o.site}-m${String(i + 1).padStart(2, '0')}`);
  const broker = await startMosquitto();
  open.push({ close: () => broker.stop() });
  const server = await ChildServer.create({
    mqttUrl: broker.url,
    clientId: `gw-${o.site}-${process.pid}`,
    sites: [o.site],
    topologyYaml: oneRoomTopology({ site: o.site, name: o.name, agent, meters }),
    rulesYaml: o.rulesYaml,
    influxUrl: o.influxUrl,
    database: db,
  });
  open.push(server);
  return { agent, db, meters, broker, server };
}

export class ChildServer extends ServerProcess {
  static async create(o: ChildServerOptions): Promise<ChildServer> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-faults-'));
    const topologyFile = path.join(dir, 'topology.yaml');
    const rulesFile = path.join(dir, 'rules.yaml');
    await writeFile(topologyFile, o.topologyYaml);
    await writeFile(rulesFile, o.rulesYaml);
    const config = {
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { url: o.mqttUrl, clientId: o.clientId, sites: o.sites },
      // a hung store answers after a minute, not the default 10 s: its writes stay stuck instead of being retried
      ...(o.influxUrl ? { influx: { url: o.influxUrl, database: o.database ?? `faults_${process.pid}`, timeoutMs: 60_000 } } : {}),
      dataDir: dir,
      topologyFile,
      auth: { adminPassword: TEST_PASSWORD },
      rules: { file: rulesFile },
      ingest: { flushIntervalMs: 20 },
      alarms: { tickMs: 100, persistIntervalMs: 300, ...o.alarms },
      priority: os.getPriority(),
    };
    const configFile = path.join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(config));
    return new ChildServer(dir, configFile);
  }

  /** The current alarm set: every alarm not normal. */
  async alarms(): Promise<{ alarmId: string; ruleId: string; source: string; state: string; active: boolean; level: string | null }[]> {
    return (await this.get('/api/alarms')).alarms;
  }
}

/**
 * The alarm set against the readings: each meter over the limit has its
 * active alarm of `ruleId`, each meter back inside has none active.
 * Returns the meters where they disagree (empty when right).
 */
export function alarmSetErrors(alarms: readonly { ruleId: string; source: string; active: boolean }[], ruleId: string, overLimit: ReadonlyMap<string, boolean>): string[] {
  const active = new Set(alarms.filter((a) => a.ruleId === ruleId && a.active).map((a) => a.source));
  const out: string[] = [];
  for (const [meter, over] of overLimit) {
    if (over && !active.has(meter)) out.push(`${meter}: over the limit, no active alarm`);
    if (!over && active.has(meter)) out.push(`${meter}: back inside, alarm still active`);
  }
  return out;
}

/** Per alarm, a raise while its condition was already active (a duplicate raise) in journal entries (seq order). */
export function duplicateRaises(entries: readonly { kind: string; alarmId?: string; reason?: string; active?: boolean; seq: number }[]): string[] {
  const active = new Map<string, boolean>();
  const out: string[] = [];
  for (const e of entries) {
    if (e.kind !== 'transition' || e.alarmId === undefined) continue;
    if (e.reason === 'raise' && active.get(e.alarmId) === true) out.push(`${e.alarmId} raised again at seq ${e.seq}`);
    active.set(e.alarmId, e.active === true);
  }
  return out;
}

export { until } from '../support/until.ts';

/**
 * An agent-shaped publisher that behaves as the edge agent's uplink does
 * around a server restart: it polls every `intervalMs` and publishes at once
 * (into the broker, which queues for a server that is away); when the server
 * announces itself `online` again after an `offline`, it resends everything
 * polled since the `offline`, marked late, one poll per `resendMs`, and only
 * then its newer polls (they queue behind the resend, as in the spool).
 */
export class SpoolingAgent {
  private readonly backlog: { ts: number }[] = [];
  private readonly queued: { ts: number }[] = [];
  resending = false;
  private offlineSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** every poll published at least once, by ts */
  readonly polled = new Set<number>();
  resent = 0;

  constructor(
    private readonly feed: Feed,
    private readonly meters: readonly string[],
    private readonly o: { intervalMs: number; resendMs: number },
  ) {}

  async start(): Promise<void> {
    const c = this.feed.client;
    await c.publishAsync(agentStateTopic(this.feed.agent), 'online', { qos: 1, retain: true });
    c.on('message', (topic, payload, packet) => {
      if (topic !== SERVER_STATE_TOPIC) return;
      const s = payload.toString('utf8');
      if (s === 'offline' && this.offlineSince === null) this.offlineSince = Date.now();
      if (s === 'online' && !packet.retain && this.offlineSince !== null) this.resend();
    });
    await c.subscribeAsync(SERVER_STATE_TOPIC, { qos: 1 });
    this.timer = setInterval(() => this.poll(), this.o.intervalMs);
  }

  private poll(): void {
    const p = { ts: Date.now() };
    if (this.offlineSince !== null) this.backlog.push(p);
    if (this.resending) this.queued.push(p);
    else this.send(p, false);
  }

  private send(p: { ts: number }, late: boolean): Promise<unknown> {
    this.polled.add(p.ts);
    this.chain = this.chain.then(() => this.feed.publish(this.meters.map((device) => ({ device, ts: p.ts, v: { ua: 230, ub: 230, uc: 230, ia: 50 }, ...(late ? { late: true } : {}) }))));
    return this.chain;
  }

  private resend(): void {
    const backlog = this.backlog.splice(0);
    this.offlineSince = null;
    this.resending = true;
    void (async () => {
      for (const p of backlog) {
        await this.send(p, true);
        this.resent++;
        await new Promise((r) => setTimeout(r, this.o.resendMs));
      }
      this.resending = false;
      // polled during the resend: late only if older than the agent's lateAfterMs (10 s) by now
      for (const p of this.queued.splice(0)) void this.send(p, Date.now() - p.ts > 10_000);
    })();
  }

  /** Stops polling and waits until everything polled is sent (the resend included). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.resending) await new Promise((r) => setTimeout(r, 50));
    await this.chain.catch(() => undefined);
  }
}

/** Readings per device in an InfluxDB database (measurement `reading`). */
export async function storedPerDevice(influxUrl: string, db: string): Promise<Map<string, number>> {
  const res = await influxQuery(influxUrl, db, 'SELECT count("ia") FROM reading GROUP BY "device"');
  return new Map((res[0]?.series ?? []).map((s) => [s.tags?.device ?? '', Number(s.values[0]![1])]));
}

/**
 * The persistent MQTT session a server that ran before has: its client id
 * subscribed (QoS 1) to the site's readings, so what agents publish before
 * the server's first start is queued for it, not dropped.
 */
export async function primeSession(mqttUrl: string, clientId: string, site: string): Promise<void> {
  const c = await mqtt.connectAsync(mqttUrl, { clientId, clean: false });
  await c.subscribeAsync(`${TOPIC_ROOT}/${site}/+/readings`, { qos: 1 });
  await c.endAsync();
}
