/**
 * Outage pool REST API (docs/outages.md, REST). Viewers look; operators
 * create, import, edit, confirm and cancel plans, take repair calls and
 * resolve findings. Lists are limited to the session's stations. Errors are
 * `{ error: { code, message } }`; a rejected plan or import adds `issues`
 * (each with its field or CSV line and reason).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GridwatchError } from '../errors.ts';
import { journalEvent, type JournalEvent } from './journal-text.ts';
import { siteVisible, sitesOf } from '../scope.ts';
import { time } from '../alarms/routes.ts';
import type { PlanInput } from './plans.ts';
import type { OutagePool } from './pool.ts';
import { customerRows, frequent, inWindow, outageView, planOrThrow, PlanRejected, planView, write } from './pool-actions.ts';
import type { Plan, PlanScopeElement } from './types.ts';

const ID = { type: 'string', minLength: 1, maxLength: 64 } as const;
const TIME = { type: ['string', 'integer'], minLength: 1, maxLength: 64 } as const;
const TEXT = { type: 'string', maxLength: 2000 } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: ID } } as const;
const SITE = { type: 'string', maxLength: 64 } as const;
const SCOPE_ELEMENT = {
  type: 'object',
  required: ['kind'],
  additionalProperties: false,
  properties: { kind: { enum: ['feeder', 'transformer', 'line'] }, feeder: ID, site: ID, transformer: ID, line: ID },
} as const;
const PLAN_BODY = {
  type: 'object',
  required: ['scope', 'start', 'end', 'reason'],
  additionalProperties: false,
  properties: { scope: { type: 'array', minItems: 1, maxItems: 200, items: SCOPE_ELEMENT }, start: TIME, end: TIME, reason: { type: 'string', minLength: 1, maxLength: 500 }, workOrder: { type: 'string', maxLength: 64 }, crew: { type: 'string', maxLength: 200 } },
} as const;

interface PlanBody {
  scope: { kind: 'feeder' | 'transformer' | 'line'; feeder?: string; site?: string; transformer?: string; line?: string }[];
  start: string | number;
  end: string | number;
  reason: string;
  workOrder?: string;
  crew?: string;
}

function when(v: string | number, name: string): number {
  return typeof v === 'number' ? v : time(v, name)!;
}

function planInput(b: PlanBody): PlanInput {
  const issues: { field: string; reason: string }[] = [];
  const scope: PlanScopeElement[] = b.scope.map((e, i) => {
    const need = (k: 'feeder' | 'site' | 'transformer' | 'line') => {
      if (e[k] === undefined) issues.push({ field: `scope[${i}].${k}`, reason: `a ${e.kind} element names its ${k}` });
      return e[k] ?? '';
    };
    if (e.kind === 'feeder') return { kind: 'feeder', feeder: need('feeder') };
    if (e.kind === 'transformer') return { kind: 'transformer', site: need('site'), transformer: need('transformer') };
    return { kind: 'line', site: need('site'), line: need('line') };
  });
  if (issues.length) throw new PlanRejected(issues);
  return { scope, start: when(b.start, 'start'), end: when(b.end, 'end'), reason: b.reason, workOrder: b.workOrder ?? '', crew: b.crew ?? '' };
}

const user = (req: FastifyRequest) => req.session?.username ?? '';

/** An entity's journal entries, after the changes made so far are written (a change the pool just made is in it). */
async function timeline(pool: OutagePool, kind: 'plan' | 'outage', id: string): Promise<{ at: number; what: string; by: string; ev: JournalEvent | null }[]> {
  await pool.flush(5000);
  // `ev`: the event kind and its parameters, for the dashboard to say it in the page's language
  return (await pool.deps.journal.timeline(kind, id)).map((e) => ({ at: e.at, what: e.what, by: e.by, ev: journalEvent(e.what) }));
}

export async function outageRoutes(app: FastifyInstance, opts: { pool: OutagePool }): Promise<void> {
  const pool = opts.pool;
  const visiblePlan = (req: FastifyRequest, p: Plan) => {
    const allowed = sitesOf(req.session);
    return allowed === null || p.sites.some((s) => allowed.has(s));
  };
  /** A station-scoped user plans only in its stations. */
  const ownStations = (req: FastifyRequest, scope: PlanScopeElement[]) => {
    const allowed = sitesOf(req.session);
    if (allowed === null) return;
    const outside = pool.grid.sitesOf(scope).filter((s) => !allowed.has(s));
    if (outside.length || scope.some((e) => e.kind === 'feeder' && pool.grid.transformersOf(e).length === 0))
      throw new GridwatchError('GW_ERR_AUTH_FORBIDDEN', `not your station${outside.length ? `: ${outside.join(', ')}` : ''}`);
  };
  const plan = (req: FastifyRequest, id: string) => {
    const p = planOrThrow(pool, id);
    if (!visiblePlan(req, p)) throw new GridwatchError('GW_ERR_PLAN_UNKNOWN', `no plan ${id}`);
    return p;
  };

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof PlanRejected) return reply.status(err.code === 'GW_ERR_PLAN_OVERLAP' ? 409 : 400).send({ error: { code: err.code, message: err.message, issues: err.issues } });
    throw err;
  });
  // the plan import takes CSV as it is: UTF-8 (with or without a byte-order mark) or GBK/GB18030
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'buffer', bodyLimit: 8 * 1_048_576 }, (_req, body: Buffer, done) => {
    try {
      done(null, new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      done(null, new TextDecoder('gb18030').decode(body));
    }
  });

  app.get<{ Querystring: { view?: 'now' | 'history' | 'all'; site?: string; from?: string; to?: string } }>(
    '/api/outages',
    { config: { minRole: 'viewer' }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { view: { enum: ['now', 'history', 'all'] }, site: SITE, from: TIME, to: TIME } } } },
    async (req) => {
      const now = pool.clock();
      const allowed = sitesOf(req.session);
      const from = time(req.query.from, 'from');
      const to = time(req.query.to, 'to');
      const view = req.query.view ?? 'now';
      const out = [...pool.records.values()]
        .filter((r) => r.state !== 'merged')
        .filter((r) => (view === 'now' ? r.state === 'active' : view === 'history' ? r.state === 'restored' : true))
        .filter((r) => req.query.site === undefined || r.scope.site === req.query.site || r.transformers.some((t) => t.startsWith(`${req.query.site}/`)))
        .filter((r) => allowed === null || r.transformers.some((t) => allowed.has(t.split('/')[0]!)) || siteVisible(allowed, r.scope.site))
        .filter((r) => inWindow(r, from, to))
        .sort((a, b) => b.start - a.start)
        .map((r) => outageView(pool, r, now));
      return { now, outages: out };
    },
  );

  app.get<{ Params: { id: string } }>('/api/outages/:id', { config: { minRole: 'viewer' }, schema: { params: idParams } }, async (req) => {
    const r = pool.records.get(req.params.id);
    const allowed = sitesOf(req.session);
    if (!r || !(allowed === null || r.transformers.some((t) => allowed.has(t.split('/')[0]!)))) throw new GridwatchError('GW_ERR_OUTAGE_UNKNOWN', `no outage ${req.params.id}`);
    const now = pool.clock();
    const p = r.planId ? pool.plans.get(r.planId) : undefined;
    const notices = pool.deps.notifier ? [...pool.deps.notifier.byRef('outage', r.id), ...(p ? pool.deps.notifier.byRef('plan', p.id) : [])] : [];
    return {
      ...outageView(pool, r, now),
      affected: customerRows(pool, r.customers, { kind: 'outage', id: r.id }),
      restoration: r.restoration ?? null,
      plan: p ? planView(pool, p) : null,
      notices: notices.map((m) => ({ id: m.id, purpose: m.purpose, customer: m.to.customer ?? null, phone: m.to.phone, state: m.state, attempts: m.attempts, updatedAt: m.updatedAt })),
      findingList: [...pool.findings.values()].filter((f) => r.findings.includes(f.id)),
      ticketList: [...pool.tickets.values()].filter((t) => r.tickets.includes(t.id)),
      timeline: await timeline(pool, 'outage', r.id),
    };
  });

  app.get<{ Querystring: { view?: 'upcoming' | 'active' | 'history' | 'all'; site?: string } }>(
    '/api/plans',
    { config: { minRole: 'viewer' }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { view: { enum: ['upcoming', 'active', 'history', 'all'] }, site: SITE } } } },
    async (req) => {
      const now = pool.clock();
      const view = req.query.view ?? 'all';
      const upcoming = (p: Plan) => (p.state === 'draft' || p.state === 'confirmed' || p.state === 'notified') && now < p.start;
      const active = (p: Plan) => p.state === 'in_progress' || (p.state === 'overrun' && p.restoredAt === undefined) || ((p.state === 'confirmed' || p.state === 'notified' || p.state === 'not_executed') && now >= p.start && now <= p.end);
      const plans = [...pool.plans.values()]
        .filter((p) => visiblePlan(req, p) && (req.query.site === undefined || p.sites.includes(req.query.site)))
        .filter((p) => (view === 'upcoming' ? upcoming(p) : view === 'active' ? active(p) : view === 'history' ? !upcoming(p) && !active(p) : true))
        .sort((a, b) => (view === 'history' ? b.start - a.start : a.start - b.start));
      return { now, plans: plans.map((p) => planView(pool, p)) };
    },
  );

  app.get<{ Params: { id: string } }>('/api/plans/:id', { config: { minRole: 'viewer' }, schema: { params: idParams } }, async (req) => {
    const p = plan(req, req.params.id);
    const notices = pool.deps.notifier?.byRef('plan', p.id) ?? [];
    return {
      ...planView(pool, p),
      affected: customerRows(pool, p.customers, { kind: 'plan', id: p.id }),
      notices: notices.map((m) => ({ id: m.id, purpose: m.purpose, customer: m.to.customer ?? null, phone: m.to.phone, state: m.state, attempts: m.attempts, updatedAt: m.updatedAt })),
      timeline: await timeline(pool, 'plan', p.id),
    };
  });

  app.post<{ Body: PlanBody }>('/api/plans', { config: { minRole: 'operator' }, schema: { body: PLAN_BODY } }, async (req, reply) => {
    const input = planInput(req.body);
    ownStations(req, input.scope);
    const p = await write(pool, { op: 'createPlan', input, by: user(req) });
    return reply.status(201).send(planView(pool, p));
  });

  app.patch<{ Params: { id: string }; Body: PlanBody }>('/api/plans/:id', { config: { minRole: 'operator' }, schema: { params: idParams, body: PLAN_BODY } }, async (req) => {
    plan(req, req.params.id);
    const input = planInput(req.body);
    ownStations(req, input.scope);
    return planView(pool, await write(pool, { op: 'actOn', id: req.params.id, action: { op: 'edit', by: user(req), input } }));
  });

  app.post<{ Params: { id: string }; Body: { customers?: number } | undefined }>(
    '/api/plans/:id/confirm',
    { config: { minRole: 'operator' }, schema: { params: idParams, body: { type: ['object', 'null'], additionalProperties: false, properties: { customers: { type: 'integer', minimum: 0 } } } } },
    async (req) => {
      plan(req, req.params.id);
      const customers = req.body?.customers;
      return planView(pool, await write(pool, { op: 'actOn', id: req.params.id, action: { op: 'confirm', by: user(req), ...(customers !== undefined ? { customers } : {}) } }));
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/api/plans/:id/cancel',
    { config: { minRole: 'operator' }, schema: { params: idParams, body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: TEXT } } } },
    async (req) => {
      plan(req, req.params.id);
      const reason = req.body?.reason;
      return planView(pool, await write(pool, { op: 'actOn', id: req.params.id, action: { op: 'cancel', by: user(req), ...(reason ? { reason } : {}) } }));
    },
  );

  app.post<{ Body: string }>('/api/plans/import', { config: { minRole: 'operator' }, bodyLimit: 8 * 1_048_576 }, async (req, reply) => {
    if (typeof req.body !== 'string') throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'send the CSV as text/csv');
    // a user scoped to some stations imports through the plan form; the file's rows may name any station
    if (sitesOf(req.session) !== null) throw new GridwatchError('GW_ERR_AUTH_FORBIDDEN', 'needs access to every station');
    const plans = await write(pool, { op: 'importPlans', text: req.body, by: user(req) });
    return reply.status(201).send({ imported: plans.length, plans: plans.map((p) => planView(pool, p)) });
  });

  app.get<{ Querystring: { state?: 'open' | 'resolved' | 'all'; history?: string; meter?: string } }>(
    '/api/findings',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { state: { enum: ['open', 'resolved', 'all'] }, history: { enum: ['1', '0', 'true', 'false'] }, meter: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (req) => {
      const allowed = sitesOf(req.session);
      const history = req.query.history === '1' || req.query.history === 'true';
      // without history: the open finding per meter, else its last; with it: every finding ever made (rebuilt from the journal)
      const state = req.query.state ?? (history ? 'all' : 'open');
      const perMeter = new Map<string, number>();
      for (const f of pool.findingHistory.values()) perMeter.set(f.meter, (perMeter.get(f.meter) ?? 0) + 1);
      const findings = [...(history ? pool.findingHistory : pool.findings).values()]
        .filter((f) => state === 'all' || f.state === state)
        .filter((f) => req.query.meter === undefined || f.meter === req.query.meter)
        .filter((f) => siteVisible(allowed, f.modelled?.site ?? f.suggested?.site))
        .sort((a, b) => b.lastAt - a.lastAt || (a.id < b.id ? 1 : -1))
        .map((f) => ({ ...f, meterFindings: perMeter.get(f.meter) ?? 1 }));
      return { findings };
    },
  );

  app.post<{ Params: { id: string }; Body: { comment?: string } | undefined }>(
    '/api/findings/:id/resolve',
    { config: { minRole: 'operator' }, schema: { params: idParams, body: { type: ['object', 'null'], additionalProperties: false, properties: { comment: TEXT } } } },
    async (req) => write(pool, { op: 'resolveFinding', id: req.params.id, by: user(req), ...(req.body?.comment ? { comment: req.body.comment } : {}) }),
  );

  app.post<{ Body: { customer?: string; meter?: string; address?: string; time?: string | number; text?: string } }>(
    '/api/tickets',
    {
      config: { minRole: 'operator' },
      schema: { body: { type: 'object', additionalProperties: false, properties: { customer: ID, meter: { type: 'string', minLength: 1, maxLength: 256 }, address: { type: 'string', maxLength: 500 }, time: TIME, text: TEXT } } },
    },
    async (req, reply) => {
      const b = req.body;
      const c = b.customer !== undefined ? pool.grid.customers.get(b.customer) : undefined;
      // a customer of a station the user does not see is unknown to them
      if (c && !siteVisible(sitesOf(req.session), c.site)) throw new GridwatchError('GW_ERR_TICKET_INVALID', `unknown customer ${b.customer}`);
      const t = await write(pool, {
        op: 'createTicket',
        input: { ...(b.customer !== undefined ? { customer: b.customer } : {}), ...(b.meter !== undefined ? { meter: b.meter } : {}), ...(b.address ? { address: b.address } : {}), time: b.time === undefined ? pool.clock() : when(b.time, 'time'), text: b.text ?? '' },
        by: user(req),
      });
      return reply.status(201).send(t);
    },
  );

  app.get<{ Querystring: { site?: string; from?: string; to?: string } }>(
    '/api/tickets',
    { config: { minRole: 'viewer' }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { site: SITE, from: TIME, to: TIME } } } },
    async (req) => {
      const allowed = sitesOf(req.session);
      const from = time(req.query.from, 'from');
      const to = time(req.query.to, 'to');
      const tickets = [...pool.tickets.values()]
        .filter((t) => siteVisible(allowed, t.site) && (req.query.site === undefined || t.site === req.query.site))
        .filter((t) => (from === undefined || t.time >= from) && (to === undefined || t.time < to))
        .sort((a, b) => b.time - a.time);
      return { tickets };
    },
  );

  app.get<{ Querystring: { days?: number; min?: number } }>(
    '/api/customers/frequent-outages',
    { config: { minRole: 'viewer' }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { days: { type: 'integer', minimum: 1, maximum: 3660 }, min: { type: 'integer', minimum: 1, maximum: 1000 } } } } },
    async (req) => {
      const allowed = sitesOf(req.session);
      const days = req.query.days ?? pool.options.frequentDays;
      const min = req.query.min ?? pool.options.frequentMin;
      return { days, min, customers: frequent(pool, days, min).filter((c) => siteVisible(allowed, c.site)) };
    },
  );
}
