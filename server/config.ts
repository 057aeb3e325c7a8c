/**
 * Server configuration: one schema, defaults in the schema, unknown keys
 * rejected, every error reported at once with its path. `main.ts` builds the
 * raw object from a file and the environment; everything else receives the
 * frozen result.
 */
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { NotifyConfigSchema } from './notify/config.ts';
import { EnergyConfigSchema } from './energy/config.ts';
import { ClusterConfigSchema } from './cluster/config.ts';

const InfluxSchema = z.strictObject({
  url: z.url(),
  /**
   * 1: InfluxDB 1.x — writes go to `/write?db=&rp=`, optional user/password.
   * 2: InfluxDB 2.x/3.x — writes to `/api/v2/write?org=&bucket=` with a token;
   * queries in both cases use InfluxQL over `/query` (v1-compatible API).
   */
  apiVersion: z.union([z.literal(1), z.literal(2)]).default(1),
  database: z.string().min(1).default('gridwatch'),
  retentionPolicy: z.string().min(1).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  token: z.string().optional(),
  org: z.string().optional(),
  /** 2.x bucket; defaults to `database` (with a DBRP mapping of the same name for queries) */
  bucket: z.string().optional(),
  /** create the database at start (1.x only) */
  createDatabase: z.boolean().default(true),
  timeoutMs: z.number().int().positive().default(10_000),
});

export const ServerConfigSchema = z.strictObject({
  http: z.strictObject({
    host: z.string().default('127.0.0.1'),
    /** 0 picks a free port (tests) */
    port: z.number().int().min(0).max(65535).default(8080),
  }).prefault({}),
  mqtt: z.strictObject({
    /** external broker; absent → an embedded broker (aedes) on loopback */
    url: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    clientId: z.string().optional(),
    /** shared-subscription group (`$share/<group>/…`); only with an external broker */
    sharedGroup: z.string().regex(/^[A-Za-z0-9_-]+$/).optional(),
    /**
     * for an external Mosquitto: the server writes its password file (`passwd`) and ACL file (`acl`) here, made
     * from the agent credentials, at start and after every change (scripts/agents.ts mosquitto does it by hand)
     */
    mosquittoFilesDir: z.string().min(1).optional(),
    /** server user names written there: gridwatch-server, gridwatch-server-2 … (one per server instance on that broker) */
    mosquittoServerUsers: z.number().int().min(1).max(32).default(1),
    /** serve only these sites (topic level `{site}`); empty → every site */
    sites: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/)).default([]),
    /** TLS to an external broker (mqtts:// URL): PEM file paths */
    tls: z.strictObject({
      ca: z.string().min(1).optional(),
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      rejectUnauthorized: z.boolean().default(true),
    }).optional(),
    embedded: z.strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(1883),
      /** UNSAFE: clients without credentials may connect and publish or subscribe anything (docs/security.md) */
      allowAnonymous: z.boolean().default(false),
      /** an additional TLS listener (PEM file paths); with requireClientCert the certificate's CN must be the agent id */
      tls: z.strictObject({
        host: z.string().optional(),
        port: z.number().int().min(0).max(65535).default(8883),
        cert: z.string().min(1),
        key: z.string().min(1),
        ca: z.string().min(1).optional(),
        requireClientCert: z.boolean().default(false),
      }).refine((t) => !t.requireClientCert || t.ca !== undefined, { message: 'requireClientCert needs ca', path: ['ca'] }).optional(),
    }).prefault({}),
  }).prefault({}),
  /** absent → embedded DuckDB file under dataDir */
  influx: InfluxSchema.optional(),
  /** scale-out on a NATS cluster (docs/cluster.md); absent → one server with its own broker */
  cluster: ClusterConfigSchema.optional(),
  dataDir: z.string().default('./data'),
  /** YAML topology file; absent → no topology (devices tagged by site only) */
  topologyFile: z.string().optional(),
  ingest: z.strictObject({
    /** readings per store write */
    batchSize: z.number().int().positive().default(5000),
    /** longest a reading waits for its batch, ms */
    flushIntervalMs: z.number().int().positive().default(100),
    /** readings held in memory awaiting the store before MQTT acks are withheld */
    maxPending: z.number().int().positive().default(200_000),
    /**
     * store writes in flight at once: with fewer, InfluxDB waits for the next
     * batch while the server serialises it (bench on 2 cores: 2 → ~52k, 4 → ~58–61k readings/s)
     */
    writeConcurrency: z.number().int().min(1).max(16).default(4),
    /**
     * readings of devices in no room of the topology: `reject` (counted as
     * unknown_device) or `accept` (stored and live, never evaluated by the
     * rules); without a topology every device is taken, up to maxUnknownDevices
     */
    unknownDevices: z.enum(['reject', 'accept']).default('reject'),
    /** distinct device ids outside the topology taken at most (more: too_many_devices) */
    maxUnknownDevices: z.number().int().min(0).default(10_000),
    /** distinct agents the topology does not name taken at most (readings and presence; more: too_many_agents) */
    maxUnknownAgents: z.number().int().min(0).default(1000),
    /** readings stamped further ahead of the server clock are rejected (future_ts), ms */
    maxFutureMs: z.number().int().positive().default(6 * 3600_000),
    /** readings stamped further back are rejected (too_old), ms */
    maxPastMs: z.number().int().positive().default(400 * 86_400_000),
    /** refused input is logged once per reason and interval, with a count of the rest, ms */
    rejectLogIntervalMs: z.number().int().positive().default(10_000),
  }).prefault({}),
  live: z.strictObject({
    /** most frames per second per WebSocket client (values are conflated between frames) */
    maxFps: z.number().positive().max(1000).default(10),
    /** a client whose socket buffer exceeds this skips frames; bytes */
    maxBufferedBytes: z.number().int().positive().default(1_048_576),
    /** a client that stays over the limit this long is disconnected, ms */
    stallTimeoutMs: z.number().int().positive().default(10_000),
  }).prefault({}),
  auth: z.strictObject({
    /** lifetime of a login (cookie and bearer token), s */
    sessionTtlS: z.number().int().positive().default(12 * 3600),
    /** failed logins per client address and user name inside the window before 429 */
    loginMaxFailures: z.number().int().positive().default(5),
    loginWindowS: z.number().int().positive().default(300),
    /** password checks (scrypt, ~32 MB each) running at once, server-wide */
    loginConcurrency: z.number().int().min(1).max(64).default(2),
    /** password checks waiting for a turn; more logins are refused with 429 */
    loginQueue: z.number().int().min(0).max(10_000).default(32),
    /** Origins allowed to open the WebSocket; empty → the server's own origin only */
    allowedOrigins: z.array(z.string().url()).default([]),
    /** password of the admin created on a bare first start; absent → generated into `<dataDir>/initial-admin-password` */
    adminPassword: z.string().min(8).optional(),
    /** mark the session cookie Secure (behind HTTPS) */
    cookieSecure: z.boolean().default(false),
  }).prefault({}),
  risk: z.strictObject({
    /** service-risk model YAML (config/risk.yaml, docs/risk.md); validated at start, every error refuses the start */
    file: z.string().min(1).optional(),
    /** the dashboard's address as its users reach it (links in risk SMS); absent → http://<http.host>:<http.port>/ */
    dashboardUrl: z.url().optional(),
    /** risk items: the closed loop (docs/risk.md, Closed loop) */
    items: z.strictObject({
      /** an item's answer is due this many hours after it opens (or its verification is rejected), per code */
      answerWithinHours: z.strictObject({
        yellow: z.number().positive().max(8760).default(72),
        red: z.number().positive().max(8760).default(24),
      }).prefault({}),
      /** contact-directory roles of a station's responsible people (they get the item) */
      stationRoles: z.array(z.string().min(1)).min(1).default(['station_head', 'station_manager']),
      /** the center's roles an item goes to when its station has no responsible person */
      onDutyRoles: z.array(z.string().min(1)).min(1).default(['on_call']),
      /** roles told when an item is overdue (the center's leaders, and a station's own) */
      leaderRoles: z.array(z.string().min(1)).min(1).default(['leader']),
      /** overdue check period, ms */
      tickMs: z.number().int().min(50).max(3_600_000).default(60_000),
    }).prefault({}),
    /** risk reports: HTML, PDF, CSV and the daily SMS summary (docs/risk.md, Reports) */
    reports: z.strictObject({
      /** Chromium that prints the PDFs: a path, or a name looked up on PATH; '' turns PDF off (HTML and CSV stay) */
      chromium: z.string().default('chromium'),
      /** one PDF, waiting for a free printer included, ms */
      pdfTimeoutMs: z.number().int().min(1000).max(600_000).default(30_000),
      /** PDFs printed at once (one browser, one page each) */
      pdfConcurrency: z.number().int().min(1).max(16).default(2),
      /** the browser is closed after this long without a PDF, s */
      pdfIdleCloseS: z.number().int().min(1).max(86_400).default(300),
      /** contact-directory roles that get the SMS summary after each daily run */
      smsRoles: z.array(z.string().min(1)).default(['leader']),
      /** `risk`: only to people with a red, yellow or flagged station; `always`: after every daily run */
      smsWhen: z.enum(['risk', 'always']).default('risk'),
    }).prefault({}),
  }).prefault({}),
  rules: z.strictObject({
    /** rules YAML (server/rules/rules.example.yaml); absent → `<dataDir>/rules.yaml` if an admin saved rules through the API, else the built-in GB/T defaults */
    file: z.string().optional(),
  }).prefault({}),
  alarms: z.strictObject({
    /** time-driven evaluation (stale data, delays expiring without readings, shelve expiry, call timeout, escalation), ms */
    tickMs: z.number().int().min(20).max(60_000).default(1000),
    /** how often running rule state (on-delays, baselines) is saved to `<dataDir>/alarm-rule-state.json`, ms; also at stop */
    persistIntervalMs: z.number().int().min(100).default(5000),
    /** recent alarm events kept in memory for WebSocket clients that resume with `since` */
    resumeBuffer: z.number().int().min(0).default(10_000),
    escalation: z.strictObject({
      /** JSON POST target for alarms left unacknowledged too long (an SMS gateway); absent → no escalation */
      webhookUrl: z.url().optional(),
      /** longest an alarm may stay unacknowledged per severity, s; 0 = never escalates */
      afterS: z.strictObject({
        critical: z.number().nonnegative().default(300),
        high: z.number().nonnegative().default(900),
        medium: z.number().nonnegative().default(3600),
        low: z.number().nonnegative().default(0),
      }).prefault({}),
      /** webhook attempts in all, with doubling delays from retryDelayMs */
      attempts: z.number().int().min(1).max(20).default(4),
      retryDelayMs: z.number().int().min(0).default(1000),
      timeoutMs: z.number().int().positive().default(5000),
    }).prefault({}),
  }).prefault({}),
  /** the outage pool (docs/outages.md) */
  outages: z.strictObject({
    /** a notice less than this many days before a planned outage's start is late: allowed, marked, warned */
    noticeLeadDays: z.number().min(0).max(60).default(7),
    /** a confirmed plan whose scope still has supply this long after its start is "not executed" */
    notExecutedAfterMin: z.number().min(0).max(1440).default(10),
    /** a cut this long before a plan's start still counts as that plan */
    startToleranceMin: z.number().min(0).max(1440).default(15),
    /** plans overlapping an open plan on the same scope and time: refused (409) or saved with a warning */
    overlap: z.enum(['refuse', 'warn']).default('refuse'),
    /** frequent outages: at least `frequentMin` outages within `frequentDays` */
    frequentDays: z.number().int().min(1).max(3660).default(60),
    frequentMin: z.number().int().min(1).max(1000).default(3),
    /** a meter going dark this close (s) to an outage's start went dark with it (topology mismatch) */
    coincideS: z.number().min(1).max(3600).default(30),
    /** a meter inside a dark scope still reporting voltage this long (s) after the start is a topology mismatch; a meter outside is judged after being dark this long */
    liveInsideAfterS: z.number().min(0).max(3600).default(30),
    /** a new outage this soon (s) after an outage over it was restored is nested in it */
    nestedWithinS: z.number().min(0).max(86_400).default(120),
    /** repair calls of one customer within this many hours are counted together */
    repeatWindowH: z.number().min(0).max(24 * 60).default(24),
    /** phase voltage below which a meter has no supply, V */
    darkBelowV: z.number().positive().default(22),
    /** a reading older than this (s) says nothing about supply */
    freshS: z.number().positive().default(60),
    /** evaluation period, ms */
    tickMs: z.number().int().min(50).max(60_000).default(1000),
    /** the service hotline named in notices */
    hotline: z.string().min(1).max(32).default('95598'),
    /** the zone of the times in notices and of CSV times without an offset, minutes east of UTC (480: Beijing) */
    tzOffsetMin: z.number().int().min(-720).max(840).default(480),
  }).prefault({}),
  /** line loss per transformer area (docs/energy.md, Configuration) */
  energy: EnergyConfigSchema,
  /** notifications, customers import, contact directory (docs/notifications.md) */
  notify: NotifyConfigSchema,
  dashboardDir: z.string().optional(),
  /**
   * nice value of the event-loop thread (−20 highest … 19 lowest): the
   * thread that evaluates the rules and pushes the alarms goes first when the
   * CPU is shared with the store (server/priority.ts)
   */
  priority: z.number().int().min(-20).max(19).default(-10),
  /**
   * how far the old generation may grow over what a mark-compact left alive,
   * in % (200: to three times); 0 (default) leaves V8's own choice (server/heap.ts)
   */
  heapGrowingPercent: z.number().int().min(0).max(1000).default(0),
  /**
   * start incremental marking when the old generation has reached this % of
   * its limit, instead of V8's rule (which with the 64 MB young generation
   * marks right after every compaction); 0 leaves V8's rule (server/heap.ts)
   */
  markingStartPercent: z.number().int().min(0).max(99).default(70),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type ServerConfig = Readonly<z.infer<typeof ServerConfigSchema>>;
export type InfluxConfig = z.infer<typeof InfluxSchema>;

/** Formats zod issues as `path: message`, one per issue. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    const extra = i.code === 'unrecognized_keys' ? ` (${(i as { keys: string[] }).keys.join(', ')})` : '';
    return `${path || '(root)'}: ${i.message}${extra}`;
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export function loadServerConfig(raw: unknown): ServerConfig {
  const r = ServerConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigError('server configuration', formatIssues(r.error.issues));
  return deepFreeze(r.data);
}

/**
 * Environment variables → raw config (merged over a config file's object).
 * Called by `main.ts` and by `npm start` (scripts/run-all.ts, over the
 * demo's defaults); nothing else reads the environment. Numbers are parsed here so that the schema sees
 * the right types and reports a bad one with its variable's path.
 */
export function configFromEnv(env: NodeJS.ProcessEnv, base: Record<string, unknown> = {}): Record<string, unknown> {
  const cfg = structuredClone(base) as Record<string, any>;
  const set = (path: readonly string[], value: unknown) => {
    let o = cfg;
    for (const k of path.slice(0, -1)) o = o[k] ??= {};
    o[path[path.length - 1]!] = value;
  };
  for (const [name, path, conv] of ENV_MAP) {
    const v = env[name];
    if (v !== undefined && v !== '') set(path, conv(v));
  }
  return cfg;
}

const num = (s: string) => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s);
/** `critical=300,high=900` → { critical: 300, high: 900 }; anything else is passed on for the schema to report */
const perSeverity = (s: string): unknown => {
  const out: Record<string, unknown> = {};
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([a-z]+)=(.*)$/.exec(part);
    if (!m) return s;
    out[m[1]!] = num(m[2]!);
  }
  return out;
};
/** Every environment variable the server reads: name, config path, conversion. */
export const ENV_MAP: ReadonlyArray<readonly [string, readonly string[], (s: string) => unknown]> = [
    ['GW_HTTP_HOST', ['http', 'host'], String],
    ['GW_HTTP_PORT', ['http', 'port'], num],
    ['GW_MQTT_URL', ['mqtt', 'url'], String],
    ['GW_MQTT_USERNAME', ['mqtt', 'username'], String],
    ['GW_MQTT_PASSWORD', ['mqtt', 'password'], String],
    ['GW_MQTT_SHARED_GROUP', ['mqtt', 'sharedGroup'], String],
    ['GW_MQTT_MOSQUITTO_FILES_DIR', ['mqtt', 'mosquittoFilesDir'], String],
    ['GW_MQTT_SITES', ['mqtt', 'sites'], (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean)],
    ['GW_MQTT_EMBEDDED_PORT', ['mqtt', 'embedded', 'port'], num],
    ['GW_MQTT_ALLOW_ANONYMOUS', ['mqtt', 'embedded', 'allowAnonymous'], (s: string) => (s === 'true' ? true : s === 'false' ? false : s)],
    ['GW_CLUSTER_NATS_USER', ['cluster', 'nats', 'user'], String],
    ['GW_CLUSTER_NATS_PASSWORD', ['cluster', 'nats', 'pass'], String],
    ['GW_INFLUX_URL', ['influx', 'url'], String],
    ['GW_INFLUX_API_VERSION', ['influx', 'apiVersion'], num],
    ['GW_INFLUX_DATABASE', ['influx', 'database'], String],
    ['GW_INFLUX_USERNAME', ['influx', 'username'], String],
    ['GW_INFLUX_PASSWORD', ['influx', 'password'], String],
    ['GW_INFLUX_TOKEN', ['influx', 'token'], String],
    ['GW_INFLUX_ORG', ['influx', 'org'], String],
    ['GW_INFLUX_BUCKET', ['influx', 'bucket'], String],
    ['GW_DATA_DIR', ['dataDir'], String],
    ['GW_TOPOLOGY_FILE', ['topologyFile'], String],
    ['GW_LOG_LEVEL', ['logLevel'], String],
    ['GW_PRIORITY', ['priority'], num],
    ['GW_HEAP_GROWING_PERCENT', ['heapGrowingPercent'], num],
    ['GW_MARKING_START_PERCENT', ['markingStartPercent'], num],
    ['GW_INGEST_BATCH_SIZE', ['ingest', 'batchSize'], num],
    ['GW_INGEST_FLUSH_MS', ['ingest', 'flushIntervalMs'], num],
    ['GW_INGEST_WRITE_CONCURRENCY', ['ingest', 'writeConcurrency'], num],
    ['GW_INGEST_MAX_PENDING', ['ingest', 'maxPending'], num],
    ['GW_INGEST_UNKNOWN_DEVICES', ['ingest', 'unknownDevices'], String],
    ['GW_INGEST_MAX_UNKNOWN_DEVICES', ['ingest', 'maxUnknownDevices'], num],
    ['GW_INGEST_MAX_UNKNOWN_AGENTS', ['ingest', 'maxUnknownAgents'], num],
    ['GW_INGEST_MAX_FUTURE_MS', ['ingest', 'maxFutureMs'], num],
    ['GW_INGEST_MAX_PAST_MS', ['ingest', 'maxPastMs'], num],
    ['GW_LIVE_MAX_FPS', ['live', 'maxFps'], num],
    ['GW_ADMIN_PASSWORD', ['auth', 'adminPassword'], String],
    ['GW_LOGIN_CONCURRENCY', ['auth', 'loginConcurrency'], num],
    ['GW_LOGIN_QUEUE', ['auth', 'loginQueue'], num],
    ['GW_ALLOWED_ORIGINS', ['auth', 'allowedOrigins'], (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean)],
    ['GW_COOKIE_SECURE', ['auth', 'cookieSecure'], (s: string) => (s === 'true' ? true : s === 'false' ? false : s)],
    ['GW_RULES_FILE', ['rules', 'file'], String],
    ['GW_RISK_FILE', ['risk', 'file'], String],
    ['GW_RISK_REPORTS_CHROMIUM', ['risk', 'reports', 'chromium'], String],
    ['GW_ALARM_TICK_MS', ['alarms', 'tickMs'], num],
    ['GW_ALARM_WEBHOOK_URL', ['alarms', 'escalation', 'webhookUrl'], String],
    ['GW_ALARM_ESCALATE_AFTER_S', ['alarms', 'escalation', 'afterS'], perSeverity],
    ['GW_NOTIFY_GATEWAY_URL', ['notify', 'gateway', 'url'], String],
    ['GW_NOTIFY_GATEWAY_ACCOUNT', ['notify', 'gateway', 'account'], String],
    ['GW_NOTIFY_GATEWAY_SECRET', ['notify', 'gateway', 'secret'], String],
    ['GW_NOTIFY_RATE_PER_S', ['notify', 'ratePerS'], num],
];
