/**
 * Embedded MQTT broker (aedes) for a bare machine: used only when no broker
 * URL is configured. Loopback by default; production uses Mosquitto or a
 * clustered broker.
 *
 * With `security` (what the server always passes) every CONNECT, PUBLISH,
 * last will and SUBSCRIBE goes through the policy of server/mqtt-policy.ts:
 * unknown or anonymous clients are refused, agents are confined to their own
 * topics, and a rotated or revoked agent is disconnected at once. Every
 * refusal is counted (`gridwatch_mqtt_refused_total{action,reason}`) and
 * audited. Without `security` the broker is open (a room's local sensor
 * broker in the demo and in tests).
 *
 * An optional TLS listener serves next to the plain one; with
 * `requireClientCert` a client must present a certificate signed by `ca`
 * whose subject CN is its MQTT user name (the agent id).
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { Aedes, type Client } from 'aedes';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { AuditLog } from './audit.ts';
import type { AgentCredentials } from './mqtt-credentials.ts';
import { RejectLog } from './reject-log.ts';
import { actorOf, authorize, clientIdAllowed, isServerUsername, type MqttIdentity, type RefusalReason } from './mqtt-policy.ts';

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  /** `mqtts://host:port` of the TLS listener, when configured */
  readonly tlsUrl: string | null;
  /** clients connected now, by identity (agent id, server user name, '' for anonymous) */
  connectedAs(actor: string): number;
  stop(): Promise<void>;
}

export interface BrokerTls {
  host?: string | undefined;
  port: number;
  /** PEM file paths */
  cert: string;
  key: string;
  ca?: string | undefined;
  requireClientCert: boolean;
}

export interface BrokerSecurity {
  credentials: AgentCredentials;
  /** unsafe: clients without a user name may connect and do anything */
  allowAnonymous: boolean;
  audit: AuditLog;
  /** the refusal counter is registered here */
  registry: Registry;
}

const REFUSED_METRIC = 'gridwatch_mqtt_refused_total';

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3) */
const RC = { identifierRejected: 2, badCredentials: 4, notAuthorized: 5 } as const;

function refusedCounter(registry: Registry): Counter<'action' | 'reason'> {
  const existing = registry.getSingleMetric(REFUSED_METRIC);
  if (existing) return existing as Counter<'action' | 'reason'>;
  return new Counter({
    name: REFUSED_METRIC,
    help: 'MQTT actions the embedded broker refused, by action (connect, publish, subscribe) and reason',
    labelNames: ['action', 'reason'] as const,
    registers: [registry],
  });
}

function connectError(returnCode: number, message: string): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

function remoteAddress(client: Client | null): string | undefined {
  const conn = (client as unknown as { conn?: { remoteAddress?: string } } | null)?.conn;
  return conn?.remoteAddress;
}

export async function startEmbeddedBroker(opts: {
  host: string;
  port: number;
  log: Logger;
  security?: BrokerSecurity | null;
  tls?: BrokerTls | null;
}): Promise<EmbeddedBroker> {
  const sec = opts.security ?? null;
  const identities = new WeakMap<Client, MqttIdentity>();
  /** an agent's credentials as they were when its client authenticated (AgentCredentials.stamp) */
  const stamps = new WeakMap<Client, string | undefined>();
  /** connected clients per actor (agent id / server user name / '') */
  const byActor = new Map<string, Set<Client>>();
  const refused = sec ? refusedCounter(sec.registry) : null;
  // a flood of refusals writes at most two lines per action and reason every 10 s (all are counted and audited)
  const rejectLog = new RejectLog(opts.log, 10_000);

  const refuse = (action: 'connect' | 'publish' | 'subscribe', reason: RefusalReason, actor: string, client: Client | null, target?: string, detail?: string) => {
    refused?.inc({ action, reason });
    const ip = remoteAddress(client);
    sec?.audit.record({
      kind: action === 'connect' ? 'mqtt_auth_failed' : action === 'publish' ? 'mqtt_publish_refused' : 'mqtt_subscribe_refused',
      actor,
      ...(ip ? { ip } : {}),
      ...(target !== undefined ? { target } : {}),
      detail: detail ?? reason,
    });
    rejectLog.warn(`${action}/${reason}`, 'mqtt action refused', () => ({ action, actor, clientId: client?.id, target, ip }));
  };

  const broker = await Aedes.createBroker({
    // a stalled subscriber must not freeze delivery to everyone (aedes docs, drainTimeout)
    drainTimeout: 10_000,
    concurrency: 1000,
    queueLimit: 10_000,
    ...(sec
      ? {
          authenticate(client, username, password, done) {
            void (async () => {
              const actor = (username ?? '').slice(0, 128);
              let id: MqttIdentity;
              if (username === undefined || username === '') {
                if (!sec.allowAnonymous) {
                  refuse('connect', 'anonymous', '', client, client.id);
                  return done(connectError(RC.notAuthorized, 'anonymous clients are not allowed'), false);
                }
                id = { kind: 'anonymous' };
              } else {
                const r = await sec.credentials.verify(username, password?.toString('utf8'));
                if (!r.ok) {
                  // names nobody has are audited under one actor: made-up names must not get a rate limit each
                  const known = isServerUsername(username) || sec.credentials.get(username) !== undefined;
                  if (!known) refuse('connect', r.reason, '', client, client.id, `${r.reason}: unknown user ${JSON.stringify(actor.slice(0, 64))}`);
                  else refuse('connect', r.reason, actor, client, client.id);
                  return done(connectError(r.reason === 'revoked' ? RC.notAuthorized : RC.badCredentials, r.reason), false);
                }
                id = r.identity;
              }
              if (!clientIdAllowed(id, client.id)) {
                refuse('connect', 'client_id', actor, client, client.id);
                return done(connectError(RC.identifierRejected, 'client id must be the agent id or gridwatch-agent-<agent id>'), false);
              }
              // with a client certificate, its CN is the user name
              const sock = (client as unknown as { conn?: unknown }).conn;
              if (sock instanceof tls.TLSSocket) {
                const cert = sock.getPeerCertificate();
                const presented = !!cert && Object.keys(cert).length > 0;
                const cn = presented ? cert.subject?.CN : undefined;
                // a certificate without a CN names nobody: refused like a wrong one
                if (presented && cn !== (username ?? '')) {
                  refuse('connect', 'cn_mismatch', actor, client, `CN=${String(cn ?? '').slice(0, 128)}`);
                  return done(connectError(RC.notAuthorized, 'certificate CN does not match the user name'), false);
                }
              }
              // the last will is a publish like any other, checked now rather than when the connection dies
              const will = (client as unknown as { _will?: { topic: string } | null })._will;
              if (will && !authorize(id, 'publish', will.topic)) {
                refuse('connect', 'will_topic', actor, client, will.topic);
                return done(connectError(RC.notAuthorized, 'last will topic not allowed'), false);
              }
              identities.set(client, id);
              if (id.kind === 'agent') stamps.set(client, sec.credentials.stamp(id.agent));
              done(null, true);
            })().catch((err: Error) => {
              opts.log.error({ err }, 'mqtt authentication failed');
              done(connectError(RC.notAuthorized, 'authentication error'), false);
            });
          },
          authorizePublish(client, packet, done) {
            const id = client ? identities.get(client) : undefined;
            if (id && authorize(id, 'publish', packet.topic)) return done(null);
            // MQTT 3.1.1 has no negative PUBACK: aedes closes the connection
            refuse('publish', 'topic_not_allowed', id ? actorOf(id) : '', client, packet.topic);
            done(new Error('publish not allowed'));
          },
          authorizeSubscribe(client, sub, done) {
            const id = identities.get(client);
            if (id && authorize(id, 'subscribe', sub.topic)) return done(null, sub);
            refuse('subscribe', 'topic_not_allowed', id ? actorOf(id) : '', client, sub.topic);
            // SUBACK 0x80 for this filter; the connection stays
            done(null, null);
          },
        }
      : {}),
  });
  broker.on('clientError', (client, err) => opts.log.debug({ clientId: client?.id, err }, 'mqtt client error'));
  broker.on('client', (client) => {
    const id = identities.get(client);
    if (!id) return;
    const actor = actorOf(id);
    // rotated or revoked between its authentication and now (the cut-off found no client to close then)
    if (id.kind === 'agent' && sec && sec.credentials.stamp(id.agent) !== stamps.get(client)) {
      opts.log.warn({ agent: id.agent }, 'mqtt: agent credentials changed while it connected; disconnecting');
      client.close();
      return;
    }
    let set = byActor.get(actor);
    if (!set) byActor.set(actor, (set = new Set()));
    set.add(client);
  });
  broker.on('clientDisconnect', (client) => {
    const id = identities.get(client);
    if (!id) return;
    const set = byActor.get(actorOf(id));
    set?.delete(client);
    if (set?.size === 0) byActor.delete(actorOf(id));
  });
  sec?.credentials.onCutOff((agent, why) => {
    const clients = byActor.get(agent);
    if (!clients?.size) return;
    opts.log.warn({ agent, why, clients: clients.size }, 'mqtt: agent credentials no longer valid; disconnecting');
    // closing without DISCONNECT publishes the agent's last will (offline), as for any lost agent
    for (const c of [...clients]) c.close();
  });

  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const listen = (server: net.Server, port: number, host: string) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });

  const servers: net.Server[] = [];
  const closeAll = async () => {
    rejectLog.flush();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  };
  try {
    const server = net.createServer(broker.handle);
    server.on('connection', track);
    servers.push(server);
    const port = await listen(server, opts.port, opts.host);
    let tlsUrl: string | null = null;
    if (opts.tls) {
      const t = opts.tls;
      const [cert, key, ca] = await Promise.all([readFile(t.cert), readFile(t.key), t.ca ? readFile(t.ca) : Promise.resolve(undefined)]);
      const tlsServer = tls.createServer(
        { cert, key, ...(ca ? { ca } : {}), requestCert: t.requireClientCert, rejectUnauthorized: t.requireClientCert, minVersion: 'TLSv1.2' },
        broker.handle,
      );
      tlsServer.on('secureConnection', track);
      tlsServer.on('tlsClientError', (err, s) => opts.log.warn({ err: err.message, ip: s.remoteAddress }, 'mqtt TLS handshake failed'));
      servers.push(tlsServer);
      const host = t.host ?? opts.host;
      const tlsPort = await listen(tlsServer, t.port, host);
      tlsUrl = `mqtts://${host}:${tlsPort}`;
    }
    return {
      url: `mqtt://${opts.host}:${port}`,
      port,
      tlsUrl,
      connectedAs: (actor) => byActor.get(actor)?.size ?? 0,
      stop: closeAll,
    };
  } catch (e) {
    await closeAll().catch(() => undefined);
    throw e;
  }
}
