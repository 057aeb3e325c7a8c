/**
 * The HTTP app: REST API, WebSocket live feed, dashboard files. A Fastify
 * instance built from already-started parts; no I/O at import, listens only
 * when main.ts (or a test, on port 0) says so.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { LogController, type FastifyReply, type FastifyRequest, type FastifyInstance, type FastifyError, type FastifyBaseLogger } from 'fastify';
import websocket from '@fastify/websocket';
import fastifyStatic from '@fastify/static';
import type { Logger } from 'pino';
import { QUANTITY_NAMES, type Quantity, type Topology } from '../contract/index.ts';
import type { TelemetryStore, Aggregate } from './store/types.ts';
import type { LiveHub } from './live-hub.ts';
import type { Metrics } from './metrics.ts';
import type { Ingest } from './ingest.ts';
import { GridwatchError } from './errors.ts';
import helmet from '@fastify/helmet';
import cookie from '@fastify/cookie';
import type { AuditLog } from './audit.ts';
import { roleRank, type Auth, type Role, type Session } from './auth.ts';
import { alarmRoutes, type AlarmService } from './alarms/index.ts';
import { agentRoutes } from './agents-routes.ts';
import type { AgentCredentials } from './mqtt-credentials.ts';
import { StationIndex, siteVisible, sitesOf } from './scope.ts';
import { HISTORY_QUERY_PROPERTIES, commaList, historySelection } from './routes/history-query.ts';
import { userRoutes } from './routes/users.ts';
import { sessionRoutes } from './routes/session.ts';
import { exportRoutes } from './routes/export.ts';
import { outageRoutes, type OutagePool } from './outages/index.ts';
import { energyRoutes, type LineLossService } from './energy/index.ts';
import { customerRoutes } from './customers/routes.ts';
import { contactRoutes, notifyRoutes } from './notify/routes.ts';
import type { NotifyParts } from './notify/wiring.ts';
import { qualityRoutes } from './quality/routes.ts';
import { riskRoutes } from './risk/routes.ts';
import type { RiskService } from './risk/service.ts';
import { riskItemRoutes, type RiskItems } from './risk/items/index.ts';
import { riskReportRoutes, type RiskReports } from './risk/reports/index.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** least role a route needs; absent → public */
    minRole?: Role;
    /** the route acts on every station (users, audit, rules, metrics): a user scoped to some stations is refused */
    allSites?: boolean;
  }
  interface FastifyRequest {
    session: Session | null;
  }
}

export const SESSION_COOKIE = 'gw_session';

export interface AppDeps {
  log: Logger;
  store: TelemetryStore;
  live: LiveHub;
  metrics: Metrics;
  ingest: Ingest;
  /** alarm routes (server/alarms/routes.ts) are served when given */
  alarms?: AlarmService;
  /** customers, contacts and notification routes are served when given */
  notifyParts?: NotifyParts;
  /** the outage pool's routes (server/outages/routes.ts) are served when given */
  outages?: OutagePool;
  /** the risk runtime's routes (server/risk/routes.ts) are served when given */
  risk?: RiskService;
  /** risk item routes (server/risk/items/routes.ts) are served when given */
  riskItems?: RiskItems;
  /** risk report routes (server/risk/reports/routes.ts) are served when given */
  riskReports?: RiskReports;
  /** the agents' MQTT credentials (`/api/agents`, server/agents-routes.ts) are served when given */
  mqttCredentials?: AgentCredentials;
  /** line-loss routes (server/energy/routes.ts) are served when given */
  energy?: LineLossService;
  topology: Topology;
  brokerEmbedded: boolean;
  dashboardDir?: string;
  auth: Auth;
  audit: AuditLog;
  authOptions: { sessionTtlS: number; allowedOrigins: readonly string[]; cookieSecure: boolean };
}

const MAX_HISTORY_POINTS = 100_000;

const list = commaList;

/** `+08:00` → 8 h in ms: buckets of a day or more then start at local midnight. */
function tzOffsetMs(tz: string | undefined): number {
  if (!tz || tz === 'Z') return 0;
  const sign = tz.startsWith('-') ? -1 : 1;
  const [h, m] = tz.slice(1).split(':').map(Number);
  return sign * ((h ?? 0) * 60 + (m ?? 0)) * 60_000;
}


const STATUS: Partial<Record<string, number>> = {
  GW_ERR_HTTP_BAD_REQUEST: 400,
  GW_ERR_HTTP_NOT_FOUND: 404,
  GW_ERR_AUTH_BAD_CREDENTIALS: 401,
  GW_ERR_AUTH_RATE_LIMITED: 429,
  GW_ERR_AUTH_REQUIRED: 401,
  GW_ERR_AUTH_FORBIDDEN: 403,
  GW_ERR_AUTH_ORIGIN: 403,
  GW_ERR_AUTH_WRONG_PASSWORD: 403,
  GW_ERR_USER_UNKNOWN: 404,
  GW_ERR_USER_EXISTS: 409,
  GW_ERR_USER_INVALID: 400,
  GW_ERR_USER_LAST_ADMIN: 409,
  GW_ERR_ALARM_UNKNOWN: 404,
  GW_ERR_RULE_UNKNOWN: 404,
  GW_ERR_ALARM_INVALID_TRANSITION: 409,
  GW_ERR_ALARM_BAD_ARGUMENT: 400,
  GW_ERR_RULES_INVALID: 400,
  GW_ERR_RULES_CONFLICT: 409,
  GW_ERR_PLAN_INVALID: 400,
  GW_ERR_PLAN_OVERLAP: 409,
  GW_ERR_PLAN_UNKNOWN: 404,
  GW_ERR_PLAN_STATE: 409,
  GW_ERR_PLAN_STALE: 409,
  GW_ERR_OUTAGE_UNKNOWN: 404,
  GW_ERR_FINDING_UNKNOWN: 404,
  GW_ERR_TICKET_INVALID: 400,
  GW_ERR_RISK_ITEM_UNKNOWN: 404,
  GW_ERR_RISK_ITEM_STATE: 409,
};

/** `scheme://host[:port]` with the scheme's default port left out, or null when not a URL of an origin. */
function originOf(s: string): string | null {
  try {
    const u = new URL(s);
    return u.origin === 'null' ? null : u.origin;
  } catch {
    return null;
  }
}

/**
 * A browser's WebSocket carries Origin; it must be ours or on the allow-list
 * (CSWSH), compared as scheme, host and port. Ours: the Host the request was
 * sent to, over https when the request came over TLS or the cookie is marked
 * Secure (behind a TLS proxy), else http. Non-browser clients send none.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, ownScheme: 'http' | 'https', allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  const given = originOf(origin);
  if (given === null) return false;
  if (allowed.length) return allowed.some((a) => originOf(a) === given);
  if (!host) return false;
  return originOf(`${ownScheme}://${host}`) === given;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.log.child({ component: 'http' }) as unknown as FastifyBaseLogger, bodyLimit: 1_048_576,
    // per-request lines would drown the log at dashboard poll rates; errors still log
    logController: new LogController({ disableRequestLogging: true }),
    // unknown query keys are an error, not silently dropped; a time may be epoch ms or ISO 8601 (a union type)
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: true, allowUnionTypes: true } },
  });

  app.setErrorHandler((err: FastifyError | GridwatchError, req, reply) => {
    if (err instanceof GridwatchError) {
      const status = STATUS[err.code] ?? (err.retryable ? 503 : 500);
      return reply.status(status).send({ error: { code: err.code, message: err.message } });
    }
    const fe = err as FastifyError;
    if (fe.validation || (fe.statusCode && fe.statusCode < 500)) {
      return reply.status(fe.statusCode ?? 400).send({ error: { code: 'GW_ERR_HTTP_BAD_REQUEST', message: fe.message } });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'GW_ERR_HTTP_INTERNAL', message: 'internal error' } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: 'GW_ERR_HTTP_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  await app.register(helmet, {
    contentSecurityPolicy: {
      // 'self' covers the same-origin ws:/wss: of /ws (CSP3); no inline script anywhere
      directives: { defaultSrc: ["'self'"], connectSrc: ["'self'"], imgSrc: ["'self'", 'data:'], styleSrc: ["'self'"], scriptSrc: ["'self'"], upgradeInsecureRequests: null },
    },
    strictTransportSecurity: deps.authOptions.cookieSecure,
  });
  await app.register(cookie);
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  const tokenOf = (req: FastifyRequest): string | undefined => {
    const h = req.headers.authorization;
    const bearer = h?.startsWith('Bearer ') ? h.slice(7) : undefined;
    return bearer ?? req.cookies[SESSION_COOKIE];
  };
  const sessionOf = (req: FastifyRequest): Session | null => deps.auth.verify(tokenOf(req));
  app.decorateRequest('session', null);
  const audit = (req: FastifyRequest, e: Omit<Parameters<AuditLog['record']>[0], 'ip'>) => deps.audit.record({ ...e, ip: req.ip });
  const setSession = (reply: FastifyReply, token: string) =>
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: deps.authOptions.cookieSecure, path: '/', maxAge: deps.authOptions.sessionTtlS });
  const stations = new StationIndex(deps.topology);
  // Every route that names a role is checked here, the WebSocket upgrade included.
  app.addHook('onRequest', async (req, reply) => {
    const min = req.routeOptions.config?.minRole;
    if (!min) return;
    const ws = req.headers.upgrade?.toLowerCase() === 'websocket';
    const ownScheme = req.protocol === 'https' || deps.authOptions.cookieSecure ? 'https' : 'http';
    if (ws && !originAllowed(req.headers.origin, req.headers.host, ownScheme, deps.authOptions.allowedOrigins)) {
      audit(req, { kind: 'ws_refused', actor: '', detail: `origin not allowed: ${String(req.headers.origin).slice(0, 200)}` });
      return reply.status(403).send({ error: { code: 'GW_ERR_AUTH_ORIGIN', message: `origin ${req.headers.origin} not allowed` } });
    }
    const session = sessionOf(req);
    if (!session) {
      if (ws) audit(req, { kind: 'ws_refused', actor: '', detail: 'no valid session' });
      return reply.status(401).send({ error: { code: 'GW_ERR_AUTH_REQUIRED', message: 'log in first' } });
    }
    if (roleRank(session.role) < roleRank(min))
      return reply.status(403).send({ error: { code: 'GW_ERR_AUTH_FORBIDDEN', message: `needs role ${min}` } });
    if (req.routeOptions.config?.allSites && session.sites)
      return reply.status(403).send({ error: { code: 'GW_ERR_AUTH_FORBIDDEN', message: 'needs access to every station' } });
    req.session = session;
  });

  await app.register(userRoutes, { auth: deps.auth, audit: deps.audit, stations, setSession });

  app.get('/api/health', { config: { minRole: 'viewer' } }, async (req) => {
    const allowed = sitesOf(req.session);
    const storeOk = await deps.store.ping();
    const brokerOk = deps.ingest.connected;
    const agentVisible = (a: string) => stations.agentVisible(allowed, a);
    let rejected = await deps.metrics.rejectedSummary();
    let agents = deps.ingest.agents();
    if (allowed) {
      // a scoped user sees its stations' agents only
      agents = Object.fromEntries(Object.entries(agents).filter(([a]) => agentVisible(a)));
      rejected = Object.fromEntries(Object.entries(rejected).map(([reason, by]) => [reason, Object.fromEntries(Object.entries(by).filter(([a]) => agentVisible(a)))]));
    }
    return {
      status: storeOk && brokerOk && deps.ingest.storeHealthy ? 'ok' : 'degraded',
      broker: { connected: brokerOk, embedded: deps.brokerEmbedded },
      store: { kind: deps.store.kind, reachable: storeOk, writing: deps.ingest.storeHealthy, lastStoredAt: deps.ingest.lastStoredAt },
      ingest: { queueDepth: deps.ingest.queueDepth, storeLagMs: deps.ingest.storeLagMs, rejected },
      agents,
    };
  });

  app.get('/api/topology', { config: { minRole: 'viewer' } }, async (req) => stations.topologyFor(sitesOf(req.session)));

  app.get('/api/quantities', { config: { minRole: 'viewer' } }, async () => QUANTITY_NAMES);

  app.get<{ Querystring: { site?: string; room?: string; device?: string } }>(
    '/api/latest',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { site: { type: 'string', maxLength: 4096 }, room: { type: 'string', maxLength: 4096 }, device: { type: 'string', maxLength: 65536 } },
        },
      },
    },
    async (req) => {
      const filter = { sites: list(req.query.site), rooms: list(req.query.room), devices: list(req.query.device) };
      const allowed = sitesOf(req.session);
      const readings = deps.live.latest(filter);
      return { readings: allowed ? readings.filter((r) => siteVisible(allowed, r.site)) : readings };
    },
  );

  /** The site of a device: the topology's, else that of its latest reading (a device the topology does not list). */
  const siteOfDevice = (d: string) => stations.siteOfDevice(d) ?? deps.live.latest({ devices: [d] }).find((r) => r.device === d)?.site;

  app.get<{ Querystring: { device?: string; line?: string; transformer?: string; quantity: string; from: string; to?: string; step?: number; aggregate?: Aggregate; tz?: string } }>(
    '/api/history',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['quantity', 'from'],
          properties: HISTORY_QUERY_PROPERTIES,
        },
      },
    },
    async (req) => {
      const { devices, quantities, from, to } = historySelection(req.query, req.session, stations, siteOfDevice, Date.now());
      // Pick the resolution: raw for short windows, buckets that keep the answer near 2,000 points otherwise.
      let step = req.query.step ?? 0;
      if (!req.query.step && to - from > 2 * 3_600_000) step = Math.ceil((to - from) / 2000 / 1000) * 1000;
      if (step === 0 && to - from > MAX_HISTORY_POINTS * 1000)
        throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'raw window too large; give a step');
      const series = await deps.store.history({
        devices,
        quantities: quantities as Quantity[],
        from,
        to,
        stepMs: step,
        utcOffsetMs: tzOffsetMs(req.query.tz),
        aggregate: req.query.aggregate ?? 'mean',
      });
      return { from, to, step, aggregate: step ? (req.query.aggregate ?? 'mean') : 'raw', series };
    },
  );

  // per-agent counters of every station: not for a user scoped to some
  app.get('/metrics', { config: { minRole: 'viewer', allSites: true } }, async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    deps.metrics.storeLag.set(deps.ingest.storeLagMs / 1000);
    return deps.metrics.registry.metrics();
  });

  // after the onRequest hook above: the plugin's routes inherit the role check
  if (deps.alarms) await app.register(alarmRoutes, { alarms: deps.alarms, siteOfSource: (source) => stations.siteOfSource(source), audit: deps.audit });
  if (deps.energy) await app.register(energyRoutes, { store: deps.store, energy: deps.energy });
  await app.register(exportRoutes, { store: deps.store, stations, siteOfDevice, ...(deps.alarms ? { alarms: deps.alarms } : {}) });
  await app.register(qualityRoutes, { store: deps.store, topology: deps.topology });
  if (deps.notifyParts) {
    const n = deps.notifyParts;
    await app.register(customerRoutes, { customers: n.customers, audit: deps.audit, importMaxBytes: n.importMaxBytes });
    await app.register(notifyRoutes, { notify: n.notify, secret: n.callbackSecret, toleranceS: n.callbackToleranceS, audit: deps.audit });
    await app.register(contactRoutes, { contacts: n.contacts, audit: deps.audit });
  }
  if (deps.outages) await app.register(outageRoutes, { pool: deps.outages });
  if (deps.risk) await app.register(riskRoutes, { risk: deps.risk });
  if (deps.riskItems) await app.register(riskItemRoutes, { items: deps.riskItems, notifier: deps.notifyParts?.notify ?? null });
  if (deps.riskReports) await app.register(riskReportRoutes, { source: deps.riskReports.source, printer: deps.riskReports.printer });
  if (deps.mqttCredentials) await app.register(agentRoutes, { credentials: deps.mqttCredentials, audit: deps.audit, topology: deps.topology });

  await app.register(sessionRoutes, { auth: deps.auth, audit: deps.audit, live: deps.live, tokenOf, setSession, clearSession: (reply) => reply.clearCookie(SESSION_COOKIE, { path: '/' }) });

  const dir = deps.dashboardDir;
  if (dir && existsSync(path.join(dir, 'index.html'))) {
    await app.register(fastifyStatic, { root: path.resolve(dir), prefix: '/', index: 'index.html' });
  } else {
    app.get('/', async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send('gridwatch: the dashboard is not built. Run `npm run build` (npm start does it).\n'),
    );
  }
  return app;
}
