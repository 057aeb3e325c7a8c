/**
 * The HTTP app: REST API, WebSocket live feed, dashboard files. A Fastify
 * instance built from already-started parts; no I/O at import, listens only
 * when main.ts (or a test, on port 0) says so.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { LogController, type FastifyRequest, type FastifyInstance, type FastifyError, type FastifyBaseLogger } from 'fastify';
import websocket from '@fastify/websocket';
import fastifyStatic from '@fastify/static';
import type { Logger } from 'pino';
import { QUANTITY_NAMES, isQuantity, type Quantity, type Topology } from '../contract/index.ts';
import type { TelemetryStore, Aggregate } from './store/types.ts';
import type { LiveHub } from './live-hub.ts';
import type { Metrics } from './metrics.ts';
import type { Ingest } from './ingest.ts';
import { GridwatchError } from './errors.ts';
import helmet from '@fastify/helmet';
import cookie from '@fastify/cookie';
import type { AuditLog } from './audit.ts';
import { ROLES, roleRank, validUsername, type Auth, type Role, type Session } from './auth.ts';
import { alarmRoutes, type AlarmService } from './alarms/index.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** least role a route needs; absent → public */
    minRole?: Role;
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
  topology: Topology;
  brokerEmbedded: boolean;
  dashboardDir?: string;
  auth: Auth;
  audit: AuditLog;
  authOptions: { sessionTtlS: number; allowedOrigins: readonly string[]; cookieSecure: boolean };
}

const MAX_HISTORY_POINTS = 100_000;

function list(s: string | undefined): string[] {
  return s ? s.split(',').map((x) => x.trim()).filter(Boolean) : [];
}

/** `+08:00` → 8 h in ms: buckets of a day or more then start at local midnight. */
function tzOffsetMs(tz: string | undefined): number {
  if (!tz || tz === 'Z') return 0;
  const sign = tz.startsWith('-') ? -1 : 1;
  const [h, m] = tz.slice(1).split(':').map(Number);
  return sign * ((h ?? 0) * 60 + (m ?? 0)) * 60_000;
}

function parseTime(s: string, name: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `${name}: not epoch ms or an ISO 8601 time`);
  return n;
}

const STATUS: Partial<Record<string, number>> = {
  GW_ERR_HTTP_BAD_REQUEST: 400,
  GW_ERR_HTTP_NOT_FOUND: 404,
  GW_ERR_AUTH_BAD_CREDENTIALS: 401,
  GW_ERR_AUTH_RATE_LIMITED: 429,
  GW_ERR_ALARM_UNKNOWN: 404,
  GW_ERR_RULE_UNKNOWN: 404,
  GW_ERR_ALARM_INVALID_TRANSITION: 409,
  GW_ERR_ALARM_BAD_ARGUMENT: 400,
  GW_ERR_RULES_INVALID: 400,
};

/** A browser's WebSocket carries Origin; it must be ours or on the allow-list (CSWSH). Non-browser clients send none. */
function originAllowed(req: FastifyRequest, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  if (allowed.length) return allowed.includes(origin);
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.log.child({ component: 'http' }) as unknown as FastifyBaseLogger, bodyLimit: 1_048_576,
    // per-request lines would drown the log at dashboard poll rates; errors still log
    logController: new LogController({ disableRequestLogging: true }),
    // unknown query keys are an error, not silently dropped
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: true } },
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

  const sessionOf = (req: FastifyRequest): Session | null => {
    const h = req.headers.authorization;
    const bearer = h?.startsWith('Bearer ') ? h.slice(7) : undefined;
    return deps.auth.verify(bearer ?? req.cookies[SESSION_COOKIE]);
  };
  app.decorateRequest('session', null);
  // Every route that names a role is checked here, the WebSocket upgrade included.
  app.addHook('onRequest', async (req, reply) => {
    const min = req.routeOptions.config?.minRole;
    if (!min) return;
    if (req.headers.upgrade?.toLowerCase() === 'websocket' && !originAllowed(req, deps.authOptions.allowedOrigins)) {
      return reply.status(403).send({ error: { code: 'GW_ERR_AUTH_ORIGIN', message: `origin ${req.headers.origin} not allowed` } });
    }
    const session = sessionOf(req);
    if (!session) return reply.status(401).send({ error: { code: 'GW_ERR_AUTH_REQUIRED', message: 'log in first' } });
    if (roleRank(session.role) < roleRank(min))
      return reply.status(403).send({ error: { code: 'GW_ERR_AUTH_FORBIDDEN', message: `needs role ${min}` } });
    req.session = session;
  });

  app.post<{ Body: { username: string; password: string } }>(
    '/api/login',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password'],
          properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (req, reply) => {
      const { username, password } = req.body;
      const wait = deps.auth.lockedFor(req.ip, username);
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        throw new GridwatchError('GW_ERR_AUTH_RATE_LIMITED', `too many failed logins; try again in ${wait} s`);
      }
      const session = await deps.auth.login(req.ip, username, password);
      if (!session) throw new GridwatchError('GW_ERR_AUTH_BAD_CREDENTIALS', 'wrong user name or password');
      const token = deps.auth.sign(session);
      reply.setCookie(SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: deps.authOptions.cookieSecure,
        path: '/',
        maxAge: deps.authOptions.sessionTtlS,
      });
      return { username: session.username, role: session.role, expiresAt: session.exp, token };
    },
  );

  app.post('/api/logout', { config: { minRole: 'viewer' } }, async (req, reply) => {
    deps.auth.revoke(req.session!);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/api/me', { config: { minRole: 'viewer' } }, async (req) => ({ username: req.session!.username, role: req.session!.role, expiresAt: req.session!.exp }));

  app.get('/api/users', { config: { minRole: 'admin' } }, async () => ({ users: deps.auth.listUsers() }));

  app.post<{ Body: { username: string; password: string; role: Role } }>(
    '/api/users',
    {
      config: { minRole: 'admin' },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password', 'role'],
          properties: {
            username: { type: 'string', minLength: 1, maxLength: 64 },
            password: { type: 'string', minLength: 8, maxLength: 256 },
            role: { type: 'string', enum: [...ROLES] },
          },
        },
      },
    },
    async (req, reply) => {
      if (!validUsername(req.body.username)) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'username: letters, digits, _ . @ - (max 64)');
      const u = await deps.auth.putUser(req.body.username, req.body.password, req.body.role);
      reply.status(201);
      return { username: u.username, role: u.role, createdAt: u.createdAt };
    },
  );

  app.get('/api/health', { config: { minRole: 'viewer' } }, async () => {
    const storeOk = await deps.store.ping();
    const brokerOk = deps.ingest.connected;
    return {
      status: storeOk && brokerOk && deps.ingest.storeHealthy ? 'ok' : 'degraded',
      broker: { connected: brokerOk, embedded: deps.brokerEmbedded },
      store: { kind: deps.store.kind, reachable: storeOk, writing: deps.ingest.storeHealthy, lastStoredAt: deps.ingest.lastStoredAt },
      ingest: { queueDepth: deps.ingest.queueDepth, storeLagMs: deps.ingest.storeLagMs, rejected: await deps.metrics.rejectedSummary() },
      agents: deps.ingest.agents(),
    };
  });

  app.get('/api/topology', { config: { minRole: 'viewer' } }, async () => deps.topology);

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
      return { readings: deps.live.latest(filter) };
    },
  );

  // line id / transformer id → the meter measuring it (ids are unique per site; all sites are searched)
  const lineMeters = new Map<string, string[]>();
  const transformerMeters = new Map<string, string[]>();
  for (const site of deps.topology.sites)
    for (const room of site.rooms)
      for (const t of room.transformers) {
        if (t.meter) transformerMeters.set(t.id, [...(transformerMeters.get(t.id) ?? []), t.meter]);
        for (const l of t.lines) if (l.meter) lineMeters.set(l.id, [...(lineMeters.get(l.id) ?? []), l.meter]);
      }

  app.get<{ Querystring: { device?: string; line?: string; transformer?: string; quantity: string; from: string; to?: string; step?: number; aggregate?: Aggregate; tz?: string } }>(
    '/api/history',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['quantity', 'from'],
          properties: {
            device: { type: 'string', minLength: 1, maxLength: 65536 },
            line: { type: 'string', minLength: 1, maxLength: 65536 },
            transformer: { type: 'string', minLength: 1, maxLength: 65536 },
            quantity: { type: 'string', minLength: 1, maxLength: 1024 },
            from: { type: 'string', minLength: 1, maxLength: 64 },
            to: { type: 'string', minLength: 1, maxLength: 64 },
            step: { type: 'integer', minimum: 0, maximum: 31 * 86_400_000 },
            aggregate: { type: 'string', enum: ['mean', 'min', 'max', 'last'] },
            tz: { type: 'string', pattern: '^(Z|[+-](0\\d|1[0-4]):[0-5]\\d)$' },
          },
        },
      },
    },
    async (req) => {
      const unknown: string[] = [];
      const meters = (ids: string[], map: Map<string, string[]>, kind: string) =>
        ids.flatMap((id) => map.get(id) ?? (unknown.push(`${kind} ${id}`), []));
      const devices = [
        ...new Set([...list(req.query.device), ...meters(list(req.query.line), lineMeters, 'line'), ...meters(list(req.query.transformer), transformerMeters, 'transformer')]),
      ];
      if (unknown.length) throw new GridwatchError('GW_ERR_HTTP_NOT_FOUND', `no meter for ${unknown.join(', ')}`);
      if (devices.length === 0) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'give device, line or transformer');
      const quantities = list(req.query.quantity);
      const bad = quantities.filter((q) => !isQuantity(q));
      if (bad.length) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `unknown quantities: ${bad.join(', ')}`);
      const from = parseTime(req.query.from, 'from');
      const to = req.query.to ? parseTime(req.query.to, 'to') : Date.now();
      if (to <= from) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'to must be after from');
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

  app.get('/metrics', { config: { minRole: 'viewer' } }, async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    deps.metrics.storeLag.set(deps.ingest.storeLagMs / 1000);
    return deps.metrics.registry.metrics();
  });

  // after the onRequest hook above: the plugin's routes inherit the role check
  if (deps.alarms) await app.register(alarmRoutes, { alarms: deps.alarms });

  app.get('/ws', { websocket: true, config: { minRole: 'viewer' } }, (socket) => {
    deps.live.addClient(socket);
  });

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
