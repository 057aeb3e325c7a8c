/**
 * User management (admins of every station), a user's own password change,
 * and the audit log query. Every change is recorded in the audit log.
 *
 *   GET    /api/users                      list
 *   POST   /api/users                      create { username, password, role, sites? }
 *   GET    /api/users/:username            one user
 *   PATCH  /api/users/:username            { role?, sites? (null: all), disabled? }
 *   DELETE /api/users/:username
 *   PUT    /api/users/:username/password   admin reset { password }
 *   POST   /api/me/password                own change { currentPassword, newPassword }
 *   GET    /api/audit?kind=&actor=&from=&to=&limit=
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AUDIT_KINDS, type AuditKind, type AuditLog } from '../audit.ts';
import { ROLES, type Auth, type Role, type UserView } from '../auth.ts';
import { GridwatchError } from '../errors.ts';
import type { StationIndex } from '../scope.ts';

export interface UserRoutesOptions {
  auth: Auth;
  audit: AuditLog;
  stations: StationIndex;
  /** sets the session cookie of a freshly issued token */
  setSession(reply: FastifyReply, token: string): void;
}

const SITE_ID = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' } as const;
const SITES = { type: 'array', minItems: 1, maxItems: 10_000, uniqueItems: true, items: SITE_ID } as const;
const PASSWORD = { type: 'string', minLength: 8, maxLength: 256 } as const;
const userParams = { type: 'object', required: ['username'], properties: { username: { type: 'string', minLength: 1, maxLength: 64 } } } as const;

function describe(u: Pick<UserView, 'role' | 'sites'>): string {
  return `role=${u.role} sites=${u.sites ? u.sites.join(',') : 'all'}`;
}

function time(s: string | undefined, name: string): number | undefined {
  if (s === undefined) return undefined;
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `${name}: not epoch ms or an ISO 8601 time`);
  return n;
}

export async function userRoutes(app: FastifyInstance, opts: UserRoutesOptions): Promise<void> {
  const { auth, audit, stations } = opts;
  const record = (req: FastifyRequest, kind: AuditKind, target?: string, detail?: string) =>
    audit.record({ kind, actor: req.session?.username ?? '', ip: req.ip, ...(target !== undefined ? { target } : {}), ...(detail !== undefined ? { detail } : {}) });
  const checkSites = (sites: readonly string[] | null | undefined) => {
    if (!sites) return;
    const unknown = stations.unknownSites(sites);
    if (unknown.length) throw new GridwatchError('GW_ERR_USER_INVALID', `sites: not in the topology: ${unknown.slice(0, 20).join(', ')}`);
  };
  const admin = { minRole: 'admin' as const, allSites: true };

  app.get('/api/users', { config: admin }, async () => ({ users: auth.listUsers() }));

  app.post<{ Body: { username: string; password: string; role: Role; sites?: string[] } }>(
    '/api/users',
    {
      config: admin,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password', 'role'],
          properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: PASSWORD, role: { type: 'string', enum: [...ROLES] }, sites: SITES },
        },
      },
    },
    async (req, reply) => {
      checkSites(req.body.sites);
      const u = await auth.createUser(req.body.username, req.body.password, req.body.role, req.body.sites);
      record(req, 'user_created', u.username, describe(u));
      reply.status(201);
      return { user: u };
    },
  );

  app.get<{ Params: { username: string } }>('/api/users/:username', { config: admin, schema: { params: userParams } }, async (req) => {
    const u = auth.user(req.params.username);
    if (!u) throw new GridwatchError('GW_ERR_USER_UNKNOWN', `no user ${req.params.username}`);
    return { user: u };
  });

  app.patch<{ Params: { username: string }; Body: { role?: Role; sites?: string[] | null; disabled?: boolean } }>(
    '/api/users/:username',
    {
      config: admin,
      schema: {
        params: userParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { role: { type: 'string', enum: [...ROLES] }, sites: { anyOf: [SITES, { type: 'null' }] }, disabled: { type: 'boolean' } },
        },
      },
    },
    async (req) => {
      const b = req.body;
      checkSites(b.sites);
      const before = auth.user(req.params.username);
      const u = await auth.updateUser(req.params.username, b);
      if (before && b.disabled !== undefined && before.disabled !== b.disabled) record(req, b.disabled ? 'user_disabled' : 'user_enabled', u.username);
      if (b.role !== undefined || b.sites !== undefined) record(req, 'user_updated', u.username, `${before ? describe(before) : ''} → ${describe(u)}`);
      return { user: u };
    },
  );

  app.delete<{ Params: { username: string } }>('/api/users/:username', { config: admin, schema: { params: userParams } }, async (req) => {
    await auth.deleteUser(req.params.username);
    record(req, 'user_deleted', req.params.username);
    return { ok: true };
  });

  app.put<{ Params: { username: string }; Body: { password: string } }>(
    '/api/users/:username/password',
    {
      config: admin,
      schema: { params: userParams, body: { type: 'object', additionalProperties: false, required: ['password'], properties: { password: PASSWORD } } },
    },
    async (req) => {
      await auth.resetPassword(req.params.username, req.body.password);
      record(req, 'password_reset', req.params.username);
      return { ok: true };
    },
  );

  app.post<{ Body: { currentPassword: string; newPassword: string } }>(
    '/api/me/password',
    {
      config: { minRole: 'viewer' },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['currentPassword', 'newPassword'],
          properties: { currentPassword: { type: 'string', minLength: 1, maxLength: 256 }, newPassword: PASSWORD },
        },
      },
    },
    async (req, reply) => {
      const me = req.session!.username;
      let session;
      try {
        session = await auth.changePassword(req.ip, me, req.body.currentPassword, req.body.newPassword);
      } catch (e) {
        if (e instanceof GridwatchError && e.code === 'GW_ERR_AUTH_WRONG_PASSWORD') record(req, 'login_failed', me, 'password change: wrong current password');
        if (e instanceof GridwatchError && e.code === 'GW_ERR_AUTH_RATE_LIMITED') {
          record(req, 'login_rate_limited', me, 'password change');
          reply.header('retry-after', String(/in (\d+) s/.exec(e.message)?.[1] ?? 1));
        }
        throw e;
      }
      record(req, 'password_changed', me);
      const token = auth.sign(session);
      opts.setSession(reply, token);
      return { username: session.username, role: session.role, expiresAt: session.exp, token };
    },
  );

  app.get<{ Querystring: { kind?: string; actor?: string; from?: string; to?: string; limit?: number } }>(
    '/api/audit',
    {
      config: admin,
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            kind: { type: 'string', maxLength: 4096 },
            actor: { type: 'string', maxLength: 256 },
            from: { type: 'string', minLength: 1, maxLength: 64 },
            to: { type: 'string', minLength: 1, maxLength: 64 },
            limit: { type: 'integer', minimum: 1, maximum: 10_000 },
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      const kinds = q.kind ? q.kind.split(',').map((k) => k.trim()).filter(Boolean) : [];
      const bad = kinds.filter((k) => !(AUDIT_KINDS as readonly string[]).includes(k));
      if (bad.length) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `kind: unknown ${bad.slice(0, 10).join(', ')}; one of ${AUDIT_KINDS.join(', ')}`);
      const from = time(q.from, 'from');
      const to = time(q.to, 'to');
      if (from !== undefined && to !== undefined && to < from) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'to must not be before from');
      const events = audit.query({
        ...(kinds.length ? { kind: kinds as AuditKind[] } : {}),
        ...(q.actor !== undefined ? { actor: q.actor } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        limit: q.limit ?? 500,
      });
      return { events };
    },
  );
}
