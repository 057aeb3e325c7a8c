/**
 * Notification REST (docs/notifications.md): the gateway's signed callbacks
 * (receipts, replies; no session, the HMAC signature is the credential) and
 * the message views for operators.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit.ts';
import type { NotifyService } from './service.ts';
import { verifySignature } from './sign.ts';
import type { GatewayEvent, NotifyRequest } from './types.ts';

export interface NotifyRouteDeps {
  notify: NotifyService;
  /** the receipt secret shared with the gateway; absent → the callbacks answer 503 */
  secret: string | undefined;
  toleranceS: number;
  audit?: AuditLog;
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 200 ? v : undefined);
const ms = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

/** `{receipts: [{msgId, clientMsgId, status, code?, at?}]}` → events, or the first problem by path. */
export function parseReceipts(doc: unknown): { events: GatewayEvent[] } | { error: string } {
  const list = (doc as Obj | null)?.receipts;
  if (!Array.isArray(list) || list.length === 0 || list.length > 10_000) return { error: 'receipts must be a list of 1-10000' };
  const events: GatewayEvent[] = [];
  for (const [i, r] of list.entries()) {
    const o = r as Obj | null;
    if (!o || typeof o !== 'object') return { error: `receipts[${i}]: not an object` };
    const clientId = str(o.clientMsgId);
    const gatewayId = str(o.msgId);
    if (!clientId && !gatewayId) return { error: `receipts[${i}]: needs msgId or clientMsgId` };
    if (o.status !== 'delivered' && o.status !== 'failed') return { error: `receipts[${i}].status: must be delivered or failed` };
    const e: GatewayEvent = { type: 'receipt', status: o.status };
    if (clientId) e.clientId = clientId;
    if (gatewayId) e.gatewayId = gatewayId;
    const at = ms(o.at);
    if (at) e.at = at;
    const code = str(o.code);
    if (code) e.code = code;
    events.push(e);
  }
  return { events };
}

/** `{replies: [{phone, text, msgId?, clientMsgId?, at?}]}` → events. */
export function parseReplies(doc: unknown): { events: GatewayEvent[] } | { error: string } {
  const list = (doc as Obj | null)?.replies;
  if (!Array.isArray(list) || list.length === 0 || list.length > 10_000) return { error: 'replies must be a list of 1-10000' };
  const events: GatewayEvent[] = [];
  for (const [i, r] of list.entries()) {
    const o = r as Obj | null;
    if (!o || typeof o !== 'object') return { error: `replies[${i}]: not an object` };
    if (typeof o.text !== 'string' || o.text.length > 2000) return { error: `replies[${i}].text: must be a string` };
    const e: GatewayEvent = { type: 'reply', text: o.text };
    const phone = str(o.phone);
    if (phone) e.phone = phone;
    const clientId = str(o.clientMsgId);
    if (clientId) e.clientId = clientId;
    const gatewayId = str(o.msgId);
    if (gatewayId) e.gatewayId = gatewayId;
    if (!phone && !clientId && !gatewayId) return { error: `replies[${i}]: needs phone, msgId or clientMsgId` };
    const at = ms(o.at);
    if (at) e.at = at;
    events.push(e);
  }
  return { events };
}

export const notifyRoutes: FastifyPluginAsync<NotifyRouteDeps> = async (app: FastifyInstance, deps) => {
  // the signature covers the exact bytes: keep the raw body (this plugin's scope only)
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 4 * 1_048_576 }, (_req, body, done) => done(null, body));

  const callback = (kind: 'receipts' | 'replies', parse: (doc: unknown) => { events: GatewayEvent[] } | { error: string }) =>
    async (req: FastifyRequest, reply: import('fastify').FastifyReply) => {
      if (!deps.secret) return reply.status(503).send({ error: { code: 'GW_ERR_NOTIFY_NOT_CONFIGURED', message: 'no notify.gateway.secret configured' } });
      const raw = typeof req.body === 'string' ? req.body : '';
      const v = verifySignature(deps.secret, req.headers, raw, Date.now(), deps.toleranceS);
      if (!v.ok) {
        deps.audit?.record({ kind: 'notify_callback_refused', actor: '', ip: req.ip, target: kind, detail: `signature ${v.reason}` });
        return reply.status(401).send({ error: { code: 'GW_ERR_NOTIFY_SIGNATURE', message: `signature ${v.reason}` } });
      }
      let doc: unknown;
      try {
        doc = JSON.parse(raw);
      } catch {
        return reply.status(400).send({ error: { code: 'GW_ERR_HTTP_BAD_REQUEST', message: 'body is not JSON' } });
      }
      const p = parse(doc);
      if ('error' in p) return reply.status(400).send({ error: { code: 'GW_ERR_HTTP_BAD_REQUEST', message: p.error } });
      const outcomes = await deps.notify.handleEvents(p.events);
      const count = { applied: 0, duplicate: 0, kept: 0, unmatched: 0 };
      for (const o of outcomes) count[o]++;
      return { ok: true, ...count };
    };

  app.post('/api/notify/receipts', callback('receipts', parseReceipts));
  app.post('/api/notify/replies', callback('replies', parseReplies));

  app.get<{ Querystring: { kind: string; id: string } }>(
    '/api/notify/messages',
    {
      config: { minRole: 'operator', allSites: true },
      schema: { querystring: { type: 'object', additionalProperties: false, required: ['kind', 'id'], properties: { kind: { type: 'string', maxLength: 64 }, id: { type: 'string', maxLength: 200 } } } },
    },
    async (req) => ({ messages: deps.notify.byRef(req.query.kind, req.query.id), summary: deps.notify.summary(req.query.kind, req.query.id) }),
  );

  // hand messages to the port from outside (another system's notices, a test batch): same checks and idempotency as inside
  app.post('/api/notify/messages', { config: { minRole: 'admin', allSites: true } }, async (req, reply) => {
    let list: unknown;
    try {
      list = (JSON.parse(typeof req.body === 'string' ? req.body : '') as { messages?: unknown } | null)?.messages;
    } catch {
      // reported below
    }
    if (!Array.isArray(list) || list.length === 0 || list.length > 20_000)
      return reply.status(400).send({ error: { code: 'GW_ERR_HTTP_BAD_REQUEST', message: 'body must be {"messages": [1-20000 messages]}' } });
    const r = await deps.notify.enqueue(list as NotifyRequest[]);
    return { accepted: r.accepted.length, duplicates: r.duplicates.length, rejected: r.rejected };
  });

  app.get('/api/notify/status', { config: { minRole: 'operator', allSites: true } }, async () => deps.notify.status());
};

export interface ContactRouteDeps {
  contacts: import('./contacts.ts').ContactDirectory;
  audit?: AuditLog;
}

/** GET /api/contacts (operator) · PUT /api/contacts {people: […]} (admin of every station) · GET /api/contacts/route?role=&site= */
export const contactRoutes: FastifyPluginAsync<ContactRouteDeps> = async (app: FastifyInstance, deps) => {
  app.get('/api/contacts', { config: { minRole: 'operator' } }, async () => ({ people: deps.contacts.list() }));
  app.put('/api/contacts', { config: { minRole: 'admin', allSites: true } }, async (req, reply) => {
    const r = await deps.contacts.replace(req.body);
    if (!r.ok) return reply.status(400).send({ error: { code: 'GW_ERR_CONTACTS_INVALID', message: `invalid contact directory:\n  - ${r.errors.join('\n  - ')}` }, errors: r.errors });
    deps.audit?.record({ kind: 'contacts_changed', actor: req.session?.username ?? '', ip: req.ip, detail: `people=${r.people.length}` });
    return { people: r.people };
  });
  app.get<{ Querystring: { role: string; site?: string } }>(
    '/api/contacts/route',
    { config: { minRole: 'operator' }, schema: { querystring: { type: 'object', additionalProperties: false, required: ['role'], properties: { role: { type: 'string', maxLength: 500 }, site: { type: 'string', maxLength: 64 } } } } },
    async (req) => ({ people: deps.contacts.route(req.query.role.split(',').filter(Boolean), req.query.site) }),
  );
};
