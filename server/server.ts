/**
 * Composition of one server process: broker (external or embedded), store
 * (InfluxDB or embedded DuckDB), live hub, ingest, HTTP app. `start()` opens
 * everything in order, `stop()` closes it in reverse and leaves nothing
 * running.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.ts';
import { AgentCredentials } from './mqtt-credentials.ts';
import { isServerUsername } from './mqtt-policy.ts';
import { writeMosquittoFiles } from './mosquitto-files.ts';
import { readFile } from 'node:fs/promises';
import { InfluxStore } from './store/influx.ts';
import { DuckDbStore } from './store/duckdb.ts';
import type { TelemetryStore, StoredReading } from './store/types.ts';
import { LiveHub } from './live-hub.ts';
import { CLOCK_AHEAD_MS } from './rules/engine.ts';
import { Ingest } from './ingest.ts';
import { Metrics } from './metrics.ts';
import { buildApp } from './app.ts';
import { applyLayout, loadTopologyFile, type LoadedTopology } from './topology-file.ts';
import { Auth } from './auth.ts';
import { AuditLog } from './audit.ts';
import { AlarmService, DuckDbAlarmJournal, InfluxAlarmJournal, type AlarmJournal } from './alarms/index.ts';
import { LineLossService } from './energy/index.ts';
import { setThreadPriority } from './priority.ts';
import { createNotifyParts, type NotifyParts } from './notify/wiring.ts';
import { createOutagePool, type OutagePool } from './outages/wiring.ts';
import { createRiskService } from './risk/wiring.ts';
import { loadRiskModel } from './risk/model.ts';
import type { RiskService } from './risk/service.ts';
import { createRiskItems, type RiskItems } from './risk/items/index.ts';
import { RiskReports } from './risk/reports/index.ts';
import { setHeapGrowingPercent, setMarkingStartPercent } from './heap.ts';
import { ClusterNode } from './cluster/node.ts';
import { RulesSync } from './cluster/rules-sync.ts';
import { RiskCluster } from './risk/cluster.ts';
import { PoolCluster } from './outages/cluster.ts';
import { ConfigError } from './errors.ts';

export interface GridwatchServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** http://host:port once started */
  readonly url: string;
  readonly mqttUrl: string;
  readonly store: TelemetryStore;
  readonly ingest: Ingest;
  readonly live: LiveHub;
  readonly metrics: Metrics;
  readonly auth: Auth;
  /** security events (logins, credential changes, refused MQTT actions) */
  readonly audit: AuditLog;
  /** MQTT credentials of the agents (and the server's own, for the embedded broker) */
  readonly mqttCredentials: AgentCredentials;
  /** the embedded broker's TLS listener, `mqtts://host:port`, when configured */
  readonly mqttTlsUrl: string | null;
  readonly alarms: AlarmService;
  /** customers (topology + CSV import), contact directory, notification service (docs/notifications.md) */
  readonly notifyParts: NotifyParts;
  /** line loss per transformer area (docs/energy.md) */
  readonly energy: LineLossService;
  /** the outage pool (docs/outages.md) */
  readonly outages: OutagePool;
  /** the service-risk runtime (docs/risk.md) when `risk.file` is set, else null */
  readonly risk: RiskService | null;
  /** risk items: the closed loop of the service-risk code (docs/risk.md) */
  readonly riskItems: RiskItems;
  /** risk reports and the daily SMS summary (docs/risk.md, Reports) when the risk runtime runs, else null */
  readonly riskReports: RiskReports | null;
  /** this server as a member of a NATS cluster (`cluster` configured), else null */
  readonly cluster: ClusterNode | null;
}

export function createServer(config: ServerConfig, opts: { log: Logger; topology?: LoadedTopology }): GridwatchServer {
  const log = opts.log;
  // a cluster's servers share one store: a DuckDB file is one machine's
  if (config.cluster && !config.influx) throw new ConfigError('server configuration', ['cluster: needs influx (the servers of a cluster share one store)']);
  // with the process metrics operators expect (CPU, memory, GC, event-loop delay)
  const metrics = new Metrics({ defaultMetrics: true });
  const store: TelemetryStore = config.influx
    ? new InfluxStore(config.influx)
    : new DuckDbStore(path.join(config.dataDir, 'gridwatch.duckdb'));
  const audit = new AuditLog(config.dataDir);
  const mqttCredentials = new AgentCredentials(config.dataDir);
  const auth = new Auth(config.dataDir, config.auth, log.child({ component: 'auth' }));
  const live = new LiveHub(config.live, metrics, log.child({ component: 'live' }));
  let broker: EmbeddedBroker | null = null;
  let ingest: Ingest | null = null;
  let alarms: AlarmService | null = null;
  let notifyParts: NotifyParts | null = null;
  let energy: LineLossService | null = null;
  let outages: OutagePool | null = null;
  let risk: RiskService | null = null;
  let riskItems: RiskItems | null = null;
  let riskReports: RiskReports | null = null;
  const journal: AlarmJournal =
    store instanceof InfluxStore ? new InfluxAlarmJournal(store) : new DuckDbAlarmJournal(() => (store as DuckDbStore).connect());
  let app: FastifyInstance | null = null;
  let url = '';
  let mqttUrl = config.cluster?.mqttUrls[0] ?? config.mqtt.url ?? '';
  let cluster: ClusterNode | null = null;
  /** cluster mode: the risk lease and the shared risk item journal */
  let riskCluster: RiskCluster | null = null;
  /** cluster mode: the center lease (the outage pool's and line loss's automatic duties on one server) */
  let poolCluster: PoolCluster | null = null;
  /** cluster mode: the alarm rules shared by the servers */
  let rulesSync: RulesSync | null = null;
  let started = false;
  let restorePriority: (() => void) | null = null;

  return {
    get url() {
      return url;
    },
    get mqttUrl() {
      return mqttUrl;
    },
    store,
    get ingest() {
      if (!ingest) throw new Error('server not started');
      return ingest;
    },
    live,
    metrics,
    auth,
    audit,
    mqttCredentials,
    get mqttTlsUrl() {
      return broker?.tlsUrl ?? null;
    },
    get alarms() {
      if (!alarms) throw new Error('server not started');
      return alarms;
    },
    get notifyParts() {
      if (!notifyParts) throw new Error('server not started');
      return notifyParts;
    },
    get energy() {
      if (!energy) throw new Error('server not started');
      return energy;
    },
    get outages() {
      if (!outages) throw new Error('server not started');
      return outages;
    },
    get risk() {
      return risk;
    },
    get riskReports() {
      return riskReports;
    },
    get riskItems() {
      if (!riskItems) throw new Error('server not started');
      return riskItems;
    },
    get cluster() {
      return cluster;
    },

    async start() {
      // before the readings flow: every limit V8 computes from here on uses it (process-wide)
      setHeapGrowingPercent(config.heapGrowingPercent);
      setMarkingStartPercent(config.markingStartPercent);
      const topo = opts.topology ?? (await loadTopologyFile(config.topologyFile));
      try {
        if (!config.mqtt.url && !config.cluster) {
          // before the broker: it checks every client against the credentials and audits refusals
          await audit.start();
          await mqttCredentials.start({ watch: true, onReloadError: (err) => log.error({ err }, 'agents.json reload failed; the previous credentials stay in force') });
          const { tls, allowAnonymous, host, port } = config.mqtt.embedded;
          broker = await startEmbeddedBroker({
            host,
            port,
            log: log.child({ component: 'broker' }),
            security: { credentials: mqttCredentials, allowAnonymous, audit, registry: metrics.registry },
            tls: tls ?? null,
          });
          if (allowAnonymous) log.warn('mqtt.embedded.allowAnonymous: anonymous MQTT clients may publish and subscribe anything');
          mqttUrl = broker.url;
          log.info({ mqttUrl }, 'embedded MQTT broker listening (no GW_MQTT_URL configured)');
        }
        if (!broker) {
          await audit.start();
          await mqttCredentials.start({ watch: true, onReloadError: (err) => log.error({ err }, 'agents.json reload failed; the previous credentials stay in force') });
        }
        const filesDir = config.mqtt.mosquittoFilesDir;
        if (filesDir) {
          // before the ingest connects: Mosquitto needs the server's user in its password file
          let writing: Promise<void> = Promise.resolve();
          // one write at a time, in the order of the changes
          const write = () =>
            (writing = writing.then(() =>
              writeMosquittoFiles(mqttCredentials, filesDir, { serverUsers: config.mqtt.mosquittoServerUsers }).then(
                (f) => log.info({ dir: filesDir, users: f.users.length }, 'Mosquitto password and ACL files written'),
                (err) => log.error({ err, dir: filesDir }, 'writing the Mosquitto password and ACL files failed'),
              ),
            ));
          await write();
          mqttCredentials.onChange(() => void write());
        }
        await auth.start();
        await store.start();
        log.info({ store: store.kind, where: config.influx?.url ?? path.join(config.dataDir, 'gridwatch.duckdb') }, 'store ready');
        // a reading stamped ahead of the clock (stored before it was bounded) is no device's latest value
        live.seed(await store.latest(undefined, Date.now() + CLOCK_AHEAD_MS));
        const mqttOpts = {
          ...config.mqtt,
          ...config.ingest,
          url: mqttUrl,
          // the embedded broker knows the server by its generated secret; an external one by mqtt.username/password
          // (the latter may name gridwatch-server or gridwatch-server-<n> without a password: the secret in the data dir is used, as in the Mosquitto export)
          ...(broker ? mqttCredentials.serverCredentials() : {}),
          ...(!broker && config.mqtt.username && isServerUsername(config.mqtt.username) && !config.mqtt.password
            ? { username: config.mqtt.username, password: mqttCredentials.serverCredentials().password }
            : {}),
          tls: config.mqtt.tls ? await loadClientTls(config.mqtt.tls) : undefined,
          ...(config.cluster
            ? {
                cluster: true,
                servers: config.cluster.mqttUrls.map((u) => {
                  const url = new URL(u);
                  return { host: url.hostname, port: Number(url.port || 1883), protocol: url.protocol === 'mqtts:' ? ('mqtts' as const) : ('mqtt' as const) };
                }),
              }
            : {}),
        };
        // cluster mode: live values also go to the other servers' dashboards
        const liveOut = config.cluster ? { publish: (r: readonly StoredReading[]) => (live.publish(r), cluster?.fanOutLive(r)) } : live;
        ingest = new Ingest(mqttOpts, { store, live: liveOut, metrics, log: log.child({ component: 'ingest' }), devices: topo.devices, topology: topo.topology, audit });
        // before the ingest starts: the first readings meet the alarm set rebuilt from the journal
        alarms = new AlarmService({
          ingest,
          live,
          journal,
          topology: topo.topology,
          devices: topo.devices,
          log: log.child({ component: 'alarms' }),
          options: { ...config.alarms, dataDir: config.dataDir, ...(config.rules.file ? { rulesFile: config.rules.file } : {}) },
        });
        if (config.cluster) {
          // before the alarms start: their first transition takes a seq of the cluster's sequence
          cluster = new ClusterNode(config.cluster, { ingest, alarms, live, topology: topo.topology, log: log.child({ component: 'cluster' }) });
          await cluster.connect();
        }
        await alarms.start();
        if (cluster && config.cluster) {
          // before the readings flow: the cluster's rules in force here (the first server seeds them from its file)
          const alarmsHere = alarms;
          rulesSync = new RulesSync(cluster.id, { bucketPrefix: config.cluster.bucketPrefix, replicas: config.cluster.stream.replicas }, alarms.rulesAdmin, log.child({ component: 'rules-sync' }), (change) => alarmsHere.pushRemoteRules(change));
          await rulesSync.start(cluster.connection);
        }
        notifyParts = createNotifyParts(config, topo.topology, log);
        await notifyParts.start(alarms);
        const alarmsNow = alarms;
        energy = new LineLossService({ store, topology: topo.topology, config: config.energy, log: log.child({ component: 'energy' }), onFigures: (f) => {
          // cluster mode: figures computed on demand elsewhere are stored alike; the center lease holder alone alarms on them
          if (poolCluster && !poolCluster.holds()) return;
          alarmsNow.onLineLoss(f);
          // a negative loss is topology-mismatch evidence for the outage pool (server/outages/loss-findings.ts)
          outages?.onLineLoss(f);
        } });
        outages = createOutagePool({ config, store, alarms, live, audit, topology: topo.topology, customers: notifyParts.customers, notifier: notifyParts.notify, log: log.child({ component: 'outages' }) });
        // before they start: only the center lease holder runs their automatic duties
        if (cluster && config.cluster) {
          poolCluster = new PoolCluster(config.cluster, cluster.id, cluster.connection, outages, energy, log.child({ component: 'pool-cluster' }));
          const center = poolCluster;
          // alarm escalations by SMS too: the holder's alarm set is every partition's; one due for longer than a takeover was sent by the previous holder
          notifyParts.gateEscalation(() => center.holds(), config.cluster.leaseTtlMs + 2 * config.cluster.renewMs + Math.max(1000, config.alarms.tickMs));
        }
        await outages.start();
        energy.start();
        // a topology reload (POST /api/topology/reload) puts the new device layout in force here, then the customers and plans follow
        const ingestNow = ingest;
        const energyNow = energy;
        notifyParts.customers.useLayout((next) => {
          const diff = applyLayout(topo, next);
          ingestNow.topologyChanged();
          alarmsNow.topologyChanged(diff.devicesRemoved);
          energyNow.topologyChanged();
          log.info({ devicesAdded: diff.devicesAdded.length, devicesRemoved: diff.devicesRemoved.length, devicesMoved: diff.devicesMoved.length, roomsAdded: diff.roomsAdded, roomsRemoved: diff.roomsRemoved }, 'topology reloaded: device layout in force');
          return diff;
        });
        if (cluster && config.cluster) riskCluster = await RiskCluster.create(config.cluster, cluster, log.child({ component: 'risk-cluster' }));
        riskItems = createRiskItems(config, topo.topology, notifyParts, log.child({ component: 'risk-items' }), riskCluster?.journal);
        riskCluster?.gate(riskItems);
        await riskItems.start();
        if (config.risk.file) {
          risk = createRiskService({ model: await loadRiskModel(config.risk.file), store, topology: topo.topology, alarms, pool: outages, log: log.child({ component: 'risk' }) });
          riskCluster?.gate(risk);
          // before the start: the days of a catch-up run open items too
          const items = riskItems;
          risk.onComputed(async (days) => void (await items.onComputed(days)));
          risk.setOpenItems((station) => items.openCount(station));
          await risk.start();
        }
        if (risk) {
          // subscribed after the items: a summary counts the items the day's run opened
          riskReports = new RiskReports(
            { config: config.risk.reports, lang: config.notify.lang, baseUrl: () => config.risk.dashboardUrl ?? (url || null) },
            { risk, items: riskItems, contacts: notifyParts.contacts, notifier: notifyParts.notify, log: log.child({ component: 'risk-reports' }) },
          );
          riskReports.start();
        }
        await ingest.start();
        if (cluster) await cluster.start();
        // after the risk parts started: only the lease holder runs the risk work
        if (riskCluster) await riskCluster.start(risk, riskItems);
        if (poolCluster) await poolCluster.start();
        app = await buildApp({
          log,
          store,
          live,
          metrics,
          ingest,
          alarms,
          notifyParts,
          energy,
          outages,
          ...(risk ? { risk } : {}),
          riskItems,
          ...(riskReports ? { riskReports } : {}),
          topology: topo.topology,
          brokerEmbedded: broker !== null,
          auth,
          audit,
          authOptions: config.auth,
          mqttCredentials,
          ...(config.dashboardDir ? { dashboardDir: config.dashboardDir } : {}),
        });
        await app.listen({ host: config.http.host, port: config.http.port });
        const addr = app.server.address() as AddressInfo;
        url = `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${addr.port}`;
        // last: the helper threads started above keep the default priority
        restorePriority = setThreadPriority(config.priority, log);
        started = true;
      } catch (e) {
        await this.stop().catch(() => undefined);
        throw e;
      }
    },

    async stop() {
      started = false;
      live.closeAll();
      if (app) await app.close().catch((err) => log.warn({ err }, 'http close failed'));
      app = null;
      if (riskCluster) await riskCluster.stop().catch((err) => log.warn({ err }, 'risk lease stop failed'));
      riskCluster = null;
      if (poolCluster) await poolCluster.stop().catch((err) => log.warn({ err }, 'center lease stop failed'));
      poolCluster = null;
      if (rulesSync) await rulesSync.stop().catch((err) => log.warn({ err }, 'rules sync stop failed'));
      rulesSync = null;
      // before the ingest: partitions are given back once what they took is stored
      if (cluster) await cluster.stop().catch((err) => log.warn({ err }, 'cluster stop failed'));
      cluster = null;
      if (ingest) await ingest.stop().catch((err) => log.warn({ err }, 'ingest stop failed'));
      if (riskReports) await riskReports.stop().catch((err) => log.warn({ err }, 'risk reports stop failed'));
      riskReports = null;
      if (riskItems) await riskItems.stop().catch((err) => log.warn({ err }, 'risk items stop failed'));
      riskItems = null;
      if (notifyParts) await notifyParts.stop().catch((err) => log.warn({ err }, 'notify stop failed'));
      notifyParts = null;
      if (risk) await risk.stop().catch((err) => log.warn({ err }, 'risk stop failed'));
      risk = null;
      if (outages) await outages.stop().catch((err) => log.warn({ err }, 'outage pool stop failed'));
      outages = null;
      if (energy) await energy.stop().catch((err) => log.warn({ err }, 'line-loss stop failed'));
      energy = null;
      if (alarms) await alarms.stop().catch((err) => log.warn({ err }, 'alarms stop failed'));
      else await journal.stop().catch(() => undefined);
      await store.stop().catch((err) => log.warn({ err }, 'store stop failed'));
      if (broker) await broker.stop().catch((err) => log.warn({ err }, 'broker stop failed'));
      mqttCredentials.stop();
      await audit.flush().catch(() => undefined);
      broker = null;
      restorePriority?.();
      restorePriority = null;
      void started;
    },
  };
}

/** PEM files of mqtt.tls → what mqtt.js takes */
async function loadClientTls(t: NonNullable<ServerConfig['mqtt']['tls']>): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean }> {
  const read = (f: string | undefined) => (f ? readFile(f) : Promise.resolve(undefined));
  const [ca, cert, key] = await Promise.all([read(t.ca), read(t.cert), read(t.key)]);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), rejectUnauthorized: t.rejectUnauthorized };
}
