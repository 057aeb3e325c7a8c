/**
 * Sessions: login (limits in server/login-limit.ts), logout, who am I, and
 * the WebSocket live feed, whose connections are tracked by user so that a
 * session ended or changed (logout, expiry, a user disabled, deleted, its
 * password or stations changed) ends them too.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { AuditEvent, AuditLog } from '../audit.ts';
import type { Auth } from '../auth.ts';
import { GridwatchError } from '../errors.ts';
import type { LiveHub } from '../live-hub.ts';

export interface SessionRoutesOptions {
  auth: Auth;
  audit: AuditLog;
  live: LiveHub;
  /** the token a request carries (bearer or cookie) */
  tokenOf(req: FastifyRequest): string | undefined;
  setSession(reply: FastifyReply, token: string): void;
  clearSession(reply: FastifyReply): void;
}

export async function sessionRoutes(app: FastifyInstance, opts: SessionRoutesOptions): Promise<void> {
  const audit = (req: FastifyRequest, e: Omit<AuditEvent, 'ts' | 'suppressed' | 'ip'>) => opts.audit.record({ ...e, ip: req.ip });

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
      const r = await opts.auth.login(req.ip, username, password);
      if (!r.ok) {
        if (r.reason === 'rate_limited' || r.reason === 'busy') {
          audit(req, { kind: 'login_rate_limited', actor: username, detail: r.reason === 'busy' ? 'too many logins at once' : 'too many failed logins' });
          reply.header('retry-after', String(r.retryAfterS));
          throw new GridwatchError('GW_ERR_AUTH_RATE_LIMITED', r.reason === 'busy' ? 'too many logins at once; try again in a second' : `too many failed logins; try again in ${r.retryAfterS} s`);
        }
        audit(req, { kind: 'login_failed', actor: username, detail: r.reason === 'disabled' ? 'user disabled' : 'wrong user name or password' });
        // a disabled user is told the same as a wrong password
        throw new GridwatchError('GW_ERR_AUTH_BAD_CREDENTIALS', 'wrong user name or password');
      }
      const session = r.session;
      audit(req, { kind: 'login', actor: username });
      const token = opts.auth.sign(session);
      opts.setSession(reply, token);
      return { username: session.username, role: session.role, sites: session.sites ?? null, expiresAt: session.exp, token };
    },
  );

  app.post('/api/logout', { config: { minRole: 'viewer' } }, async (req, reply) => {
    opts.auth.revoke(req.session!);
    audit(req, { kind: 'logout', actor: req.session!.username });
    // the WebSockets opened with this login token are closed with it
    recheck(req.session!.username);
    opts.clearSession(reply);
    return { ok: true };
  });

  app.get('/api/me', { config: { minRole: 'viewer' } }, async (req) => ({
    username: req.session!.username,
    role: req.session!.role,
    sites: req.session!.sites ?? null,
    expiresAt: req.session!.exp,
  }));

  // open connections by user: a change to the user ends those its session no longer allows as they are
  const sockets = new Map<string, Set<{ socket: WebSocket; token: string | undefined; sites: string }>>();
  const recheck = (username: string) => {
    for (const c of sockets.get(username) ?? []) {
      const now = opts.auth.verify(c.token);
      if (!now || JSON.stringify(now.sites ?? null) !== c.sites) c.socket.close(1008, 'session ended or changed; reconnect');
    }
  };
  opts.auth.onUserChange(recheck);
  // a session that expired meanwhile ends its connections too
  const sweep = setInterval(() => {
    for (const u of [...sockets.keys()]) recheck(u);
  }, 30_000);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));
  app.get('/ws', { websocket: true, config: { minRole: 'viewer' } }, (socket, req) => {
    const session = req.session!;
    // the session's stations bound everything the connection is sent, whatever it subscribes to
    opts.live.addClient(socket, { sites: session.sites ?? null });
    const entry = { socket, token: opts.tokenOf(req), sites: JSON.stringify(session.sites ?? null) };
    const mine = sockets.get(session.username) ?? new Set();
    sockets.set(session.username, mine.add(entry));
    socket.on('close', () => {
      mine.delete(entry);
      if (mine.size === 0 && sockets.get(session.username) === mine) sockets.delete(session.username);
    });
  });

}
