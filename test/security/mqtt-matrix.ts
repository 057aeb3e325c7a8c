/**
 * The MQTT authorization matrix, run against a broker (embedded aedes or
 * Mosquitto with the shipped auth settings): every action × identity, judged
 * by what a privileged subscriber (the server's identity on `gridwatch/v1/#`)
 * really receives, and by the CONNACK for connections.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { agentStateTopic, callTopic, readingsTopic, SERVER_STATE_TOPIC, watermarkTopic } from '../../contract/index.ts';

export interface Who {
  username?: string;
  password?: string;
  clientId: string;
}

export interface MatrixEnv {
  url: string;
  /** agent X of site SX, agent Y of site SY */
  x: { agent: string; site: string; password: string };
  y: { agent: string; site: string; password: string };
  /** the server's identity; `spyUser` / `probeUser` are further server user names (a broker may tie the client id to the user) */
  server: { username: string; password: string; spyUser: string; probeUser: string };
  /** an agent whose credentials were revoked (its password was right) */
  revoked: { agent: string; password: string };
  /** extra mqtt.js options (TLS) */
  extra?: IClientOptions;
}

export interface ConnectResult {
  ok: boolean;
  /** CONNACK return code of a refusal, when the broker sent one */
  code?: number;
}

const tag = () => Math.random().toString(36).slice(2, 10);

export async function tryConnect(url: string, who: Who, extra: IClientOptions = {}): Promise<{ result: ConnectResult; client: MqttClient | null }> {
  const client = mqtt.connect(url, { ...extra, ...who, reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 4, ...(extra.will ? { will: extra.will } : {}) });
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ result: { ok: true }, client }));
    client.once('error', (err) => {
      client.end(true);
      resolve({ result: { ok: false, ...((err as { code?: number }).code !== undefined ? { code: (err as { code?: number }).code! } : {}) }, client: null });
    });
    client.once('close', () => {
      if (!client.connected) resolve({ result: { ok: false }, client: null });
    });
  });
}

/** A subscriber that records every message it gets. */
export async function recorder(url: string, who: Who, filter: string, extra: IClientOptions = {}): Promise<{ client: MqttClient; got: Array<{ topic: string; payload: string }>; granted: number }> {
  const { client, result } = await tryConnect(url, who, extra);
  if (!client) throw new Error(`recorder ${who.username ?? 'anonymous'} could not connect (${result.code})`);
  const got: Array<{ topic: string; payload: string }> = [];
  client.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  // mqtt.js turns a SUBACK failure code (0x80) into an error carrying the SUBACK
  const granted = await client.subscribeAsync(filter, { qos: 1 }).then(
    (g) => g[0]?.qos ?? -1,
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1,
  );
  return { client, got, granted };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

export interface PublishCase {
  name: string;
  as: 'x' | 'y' | 'server';
  topic: string;
  allowed: boolean;
}

export function publishCases(env: MatrixEnv): PublishCase[] {
  const { x, y } = env;
  return [
    { name: 'X readings, own', as: 'x', topic: readingsTopic(x.site, x.agent), allowed: true },
    { name: 'X readings as agent Y', as: 'x', topic: readingsTopic(x.site, y.agent), allowed: false },
    { name: 'X readings in the other site', as: 'x', topic: readingsTopic(y.site, x.agent), allowed: false },
    { name: 'X state, own', as: 'x', topic: agentStateTopic(x.agent), allowed: true },
    { name: 'X state of Y (marking Y offline)', as: 'x', topic: agentStateTopic(y.agent), allowed: false },
    { name: 'X call, own site', as: 'x', topic: callTopic(x.site), allowed: true },
    { name: 'X call, other site', as: 'x', topic: callTopic(y.site), allowed: false },
    { name: 'X watermark, own (spool drop)', as: 'x', topic: watermarkTopic(x.agent), allowed: false },
    { name: 'X watermark of Y', as: 'x', topic: watermarkTopic(y.agent), allowed: false },
    { name: 'X server state', as: 'x', topic: SERVER_STATE_TOPIC, allowed: false },
    { name: 'X outside the topic root', as: 'x', topic: 'other/thing', allowed: false },
    { name: 'Y readings, own', as: 'y', topic: readingsTopic(y.site, y.agent), allowed: true },
    { name: 'Y readings as X', as: 'y', topic: readingsTopic(x.site, x.agent), allowed: false },
    { name: 'server watermark', as: 'server', topic: watermarkTopic(x.agent), allowed: true },
    { name: 'server state', as: 'server', topic: SERVER_STATE_TOPIC, allowed: true },
    { name: 'server readings (only agents publish readings)', as: 'server', topic: readingsTopic(x.site, x.agent), allowed: false },
    { name: 'server call', as: 'server', topic: callTopic(x.site), allowed: false },
  ];
}

export function whoOf(env: MatrixEnv, as: 'x' | 'y' | 'server' | 'probe' | 'spy'): Who {
  if (as === 'server') return { username: env.server.username, password: env.server.password, clientId: 'matrix-server' };
  if (as === 'probe') return { username: env.server.probeUser, password: env.server.password, clientId: 'matrix-probe' };
  if (as === 'spy') return { username: env.server.spyUser, password: env.server.password, clientId: 'matrix-spy' };
  const a = env[as];
  return { username: a.agent, password: a.password, clientId: a.agent };
}

/**
 * Runs every publish case: connects as the case's identity, publishes a
 * unique payload with QoS 1 (not retained) and reports whether the spy got it.
 * A refused publish may close the connection (aedes) or be dropped silently
 * (Mosquitto); either way it must not be delivered.
 */
export async function runPublishCases(env: MatrixEnv, spy: { got: Array<{ topic: string; payload: string }> }): Promise<Array<{ name: string; delivered: boolean; allowed: boolean }>> {
  const out: Array<{ name: string; delivered: boolean; allowed: boolean }> = [];
  for (const c of publishCases(env)) {
    const { client, result } = await tryConnect(env.url, whoOf(env, c.as), env.extra);
    if (!client) throw new Error(`${c.name}: ${c.as} could not connect (${result.code})`);
    const payload = `case-${tag()}`;
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    await Promise.race([client.publishAsync(c.topic, payload, { qos: 1 }).catch(() => undefined), closed, new Promise((r) => setTimeout(r, 3_000))]);
    const seen = () => spy.got.some((m) => m.payload === payload && m.topic === c.topic);
    // an allowed message is waited for; a refused one is given time to show up if it were going to
    const delivered = await until(seen, c.allowed ? 5_000 : 600);
    out.push({ name: c.name, delivered, allowed: c.allowed });
    client.end(true);
  }
  return out;
}

export interface SubscribeCase {
  name: string;
  as: 'x' | 'y';
  filter: string;
  /** the server publishes this; the subscriber must (not) get it */
  probe: string;
  allowed: boolean;
}

export function subscribeCases(env: MatrixEnv): SubscribeCase[] {
  const { x, y } = env;
  return [
    { name: 'X subscribes #, sees Y\'s watermark', as: 'x', filter: '#', probe: watermarkTopic(y.agent), allowed: false },
    { name: 'X subscribes every watermark, sees Y\'s', as: 'x', filter: 'gridwatch/v1/agent/+/watermark', probe: watermarkTopic(y.agent), allowed: false },
    { name: 'X subscribes Y\'s watermark', as: 'x', filter: watermarkTopic(y.agent), probe: watermarkTopic(y.agent), allowed: false },
    { name: 'X subscribes its own watermark', as: 'x', filter: watermarkTopic(x.agent), probe: watermarkTopic(x.agent), allowed: true },
    { name: 'X subscribes the server state', as: 'x', filter: SERVER_STATE_TOPIC, probe: SERVER_STATE_TOPIC, allowed: true },
    { name: 'Y subscribes X\'s watermark', as: 'y', filter: watermarkTopic(x.agent), probe: watermarkTopic(x.agent), allowed: false },
  ];
}

/** Subscribes as the case's agent, lets the server publish the probe, reports delivery. */
export async function runSubscribeCases(env: MatrixEnv): Promise<Array<{ name: string; delivered: boolean; allowed: boolean; granted: number }>> {
  const out: Array<{ name: string; delivered: boolean; allowed: boolean; granted: number }> = [];
  const pub = await tryConnect(env.url, whoOf(env, 'probe'), env.extra);
  if (!pub.client) throw new Error(`server identity could not connect (${pub.result.code})`);
  for (const c of subscribeCases(env)) {
    const sub = await recorder(env.url, whoOf(env, c.as), c.filter, env.extra);
    const payload = `probe-${tag()}`;
    await pub.client.publishAsync(c.probe, payload, { qos: 1 });
    const delivered = await until(() => sub.got.some((m) => m.payload === payload), c.allowed ? 5_000 : 600);
    out.push({ name: c.name, delivered, allowed: c.allowed, granted: sub.granted });
    sub.client.end(true);
  }
  pub.client.end(true);
  return out;
}
