/** Drivers for the alarm tests: a server with a rules file, an MQTT feed, a WebSocket alarm recorder. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { readingsTopic, callTopic, type Quality, type Values } from '../../contract/index.ts';
import { startTestServer, type TestRole, type TestServer } from '../support/server.ts';
import { connectWs, type RecordingClient } from '../support/ws-client.ts';

export interface AlarmTestServer extends TestServer {
  /** the directory holding the rules file (and, unless given, the data) */
  dir: string;
  rulesFile: string;
}

/**
 * A real server (Fastify on port 0, the shared Mosquitto, DuckDB in `dataDir`
 * or the shared influxd) with a rules file. Ticks every 100 ms so delays that
 * expire without a reading are seen promptly.
 */
export async function startAlarmServer(opts: {
  mqttUrl: string;
  topologyYaml: string;
  rulesYaml: string;
  dataDir?: string;
  influxUrl?: string;
  database?: string;
  alarms?: Record<string, unknown>;
}): Promise<AlarmTestServer> {
  const dir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'gw-alarms-')));
  const rulesFile = path.join(dir, 'test-rules.yaml');
  await writeFile(rulesFile, opts.rulesYaml);
  const ts = await startTestServer({
    mqttUrl: opts.mqttUrl,
    topologyYaml: opts.topologyYaml,
    dataDir: dir,
    ...(opts.influxUrl ? { influxUrl: opts.influxUrl } : {}),
    ...(opts.database ? { database: opts.database } : {}),
    extra: { rules: { file: rulesFile }, alarms: { tickMs: 100, persistIntervalMs: 500, ...opts.alarms } },
  }).catch(async (e: unknown) => {
    if (!opts.dataDir) await rm(dir, { recursive: true, force: true });
    throw e;
  });
  return {
    ...ts,
    dir,
    rulesFile,
    async close(o = {}) {
      await ts.close({ keepData: true });
      if (!o.keepData) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface FeedReading {
  device: string;
  ts: number;
  v: Values;
  q?: Quality;
  late?: boolean;
}

/** An agent-shaped MQTT publisher: one message per poll cycle, seq per agent, QoS 1. */
export class Feed {
  private seq = 0;
  private constructor(
    readonly client: MqttClient,
    readonly site: string,
    readonly agent: string,
  ) {}

  static async open(mqttUrl: string, site: string, agent: string): Promise<Feed> {
    return new Feed(await mqtt.connectAsync(mqttUrl, { clientId: `feed-${agent}-${process.pid}` }), site, agent);
  }

  publish(readings: readonly FeedReading[]): Promise<unknown> {
    const payload = { agent: this.agent, readings: readings.map((r) => ({ device: r.device, ts: r.ts, seq: this.seq++, v: r.v, q: r.q ?? 'good', ...(r.late ? { late: true } : {}) })) };
    return this.client.publishAsync(readingsTopic(this.site, this.agent), JSON.stringify(payload), { qos: 1 });
  }

  /** Publishes messages in order without waiting for each PUBACK (MQTT keeps their order), then waits for all. */
  async replay(messages: readonly (readonly FeedReading[])[]): Promise<void> {
    await Promise.all(messages.map((m) => this.publish(m)));
  }

  call(site: string, body: unknown = {}): Promise<unknown> {
    return this.client.publishAsync(callTopic(site), JSON.stringify(body), { qos: 1 });
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

/** A real WebSocket client as one role, recording every frame. */
export async function alarmClient(ts: TestServer, role: TestRole = 'viewer'): Promise<RecordingClient> {
  const c = await connectWs(ts.wsUrl, { cookie: await ts.cookie(role) });
  await c.next((f) => f.type === 'snapshot');
  return c;
}

/** `alarmId from→to reason [level]` of each alarm frame, in the order received. */
export function brief(frames: readonly any[], sources?: ReadonlySet<string>): string[] {
  return frames
    .filter((f) => f.type === 'alarm' && (!sources || sources.has(f.transition.source)))
    .map((f) => {
      const t = f.transition;
      return `${t.alarmId} ${t.from}→${t.to} ${t.reason}${t.level && (t.reason === 'raise' || t.reason === 'level') ? ` ${t.level}` : ''}`;
    });
}

/** Waits until `brief` of the client's frames for `sources` has at least `n` entries, then `settleMs` more. */
export async function transitions(c: RecordingClient, sources: ReadonlySet<string>, n: number, timeoutMs = 15_000, settleMs = 300): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  while (brief(c.frames, sources).length < n) {
    if (Date.now() > until) throw new Error(`expected ${n} transitions, got:\n  ${brief(c.frames, sources).join('\n  ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, settleMs));
  return brief(c.frames, sources);
}

/** An epoch ms aligned to 10 minutes, `minutesAgo` or more in the past: replays are stamped from there. */
export function replayBase(minutesAgo: number): number {
  return Math.floor((Date.now() - minutesAgo * 60_000) / 600_000) * 600_000;
}

export const S = 1000;

// ---------------------------------------------------------------- shared fixtures

/**
 * A topology YAML of one site with one room `r1` (served by `agent`, if
 * given) holding one transformer `t1` (400 kVA) whose lines `l1`…`ln`
 * (200 A) are metered by `meters`, in order.
 */
export function oneRoomTopology(o: { site: string; name: string; meters: readonly string[]; agent?: string; sensors?: readonly string[] }): string {
  return `
sites:
  - id: ${o.site}
    name: ${o.name}
    rooms:
      - id: r1
        name: Room 1${o.agent ? `\n        agent: ${o.agent}` : ''}${o.sensors ? `\n        sensors: [${o.sensors.join(', ')}]` : ''}
        transformers:
          - id: t1
            name: "1#"
            ratedKva: 400
            lines:
${o.meters.map((m, i) => `              - { id: l${i + 1}, name: L${i + 1}, ratedCurrentA: 200, meter: ${m} }`).join('\n')}
`;
}

/**
 * A rules file on the defaults with the comm-loss rules off (test feeds send
 * no steady data), then `rules`: YAML list items written at the left margin
 * (`- id: x` then its keys from column 0), indented here.
 */
export function testRules(...rules: string[]): string {
  const items = rules.map((r) => r.trim().split('\n').map((l, i) => (i === 0 ? `  ${l}` : `    ${l}`)).join('\n'));
  return `
version: 1
useDefaults: true
rules:
  - id: comm-loss
    enabled: false
  - id: sensor-comm-loss
    enabled: false
${items.join('\n')}
`;
}

/** A room-temperature limit: `temp` over 80 °C raises `id` at severity high. */
export function hotRule(id = 'hot', extra = ''): string {
  return `- id: ${id}
kind: threshold
quantity: temp
levels: { hi: { value: 80, severity: high } }
${extra}`;
}
