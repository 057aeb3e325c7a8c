/**
 * Alarm REST API (docs/api.md, Alarms). Viewers may look; operators acknowledge, shelve,
 * unshelve and comment; admins also take alarms out of service and change
 * the rules. Every route declares its least role and a schema; errors are
 * `{ error: { code, message } }` with the codes of server/errors.ts (a rules
 * change that fails validation adds `issues`, each located by rule id; in
 * cluster mode a change based on a revision that is no longer the latest is
 * a 409 with the current `revision`).
 *
 * Alarm ids contain `:` and may contain `/` (`outage:site/t1`): put them in
 * a path percent-encoded (encodeURIComponent).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AlarmAnswer, AlarmHistoryAnswer, AlarmListAnswer } from '../../contract/index.ts';
import { ALARM_STATES, SEVERITY_NAMES, alarmHealth, type AlarmState, type AlarmTransition, type Severity } from '../rules/index.ts';
import { GridwatchError } from '../errors.ts';
import { siteVisible, sitesOf } from '../scope.ts';
import { RulesRejected, type AlarmFilter, type AlarmService, type OperatorAction } from './service.ts';
import { RulesConflict } from './rules-admin.ts';
import type { AuditLog } from '../audit.ts';
import type { JournalEntry, JournalEntryKind, JournalQuery, TransitionEntry } from './journal.ts';

const ID = { type: 'string', minLength: 3, maxLength: 400 } as const;
const MAX_SHELVE_MS = 30 * 86_400_000;
const TIME = { type: 'string', minLength: 1, maxLength: 64 } as const;
const LIST = { type: 'string', maxLength: 65536 } as const;
const TEXT = { type: 'string', maxLength: 4000 } as const;
const alarmParams = { type: 'object', required: ['alarmId'], properties: { alarmId: ID } } as const;
const ruleParams = { type: 'object', required: ['ruleId'], properties: { ruleId: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
/** a rules change: a comment, and in cluster mode the revision it is based on */
const ruleChangeQuery = { type: 'object', additionalProperties: false, properties: { comment: TEXT, revision: { type: 'integer', minimum: 0 } } } as const;

export function list(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}

export function time(s: string | undefined, name: string): number | undefined {
  if (s === undefined) return undefined;
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `${name}: not epoch ms or an ISO 8601 time`);
  return n;
}

export function severities(s: string | undefined): Severity[] | undefined {
  const l = list(s);
  if (!l) return undefined;
  return l.map((x) => {
    const n = /^[1-4]$/.test(x) ? Number(x) : SEVERITY_NAMES.indexOf(x as (typeof SEVERITY_NAMES)[number]) + 1;
    if (n < 1) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `severity: "${x}" is not 1..4 or ${SEVERITY_NAMES.join(', ')}`);
    return n as Severity;
  });
}

export function states(s: string | undefined): AlarmFilter['state'] {
  if (s === 'all') return 'all';
  const l = list(s);
  if (!l) return undefined;
  const bad = l.filter((x) => !(ALARM_STATES as readonly string[]).includes(x));
  if (bad.length) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `state: unknown ${bad.join(', ')}; one of all, ${ALARM_STATES.join(', ')}`);
  return l as AlarmState[];
}

/** The querystring properties of the alarm list routes (JSON and CSV). */
export const ALARM_LIST_PROPERTIES = {
  state: LIST,
  severity: LIST,
  site: LIST,
  rule: LIST,
  source: LIST,
  active: { type: 'boolean' },
  from: TIME,
  to: TIME,
  limit: { type: 'integer', minimum: 1, maximum: 100_000 },
} as const;

/** The query of the alarm list routes (JSON and CSV). */
export interface AlarmListQuery {
  state?: string;
  severity?: string;
  site?: string;
  rule?: string;
  source?: string;
  active?: boolean;
  from?: string;
  to?: string;
  limit?: number;
}

/** The alarm filter a list query asks for, narrowed to the stations the session may see. */
export function alarmFilterOf(q: AlarmListQuery, session: Parameters<typeof sitesOf>[0]): AlarmFilter {
  const f: AlarmFilter = {};
  const st = states(q.state);
  if (st !== undefined) f.state = st;
  const sev = severities(q.severity);
  if (sev) f.severity = sev;
  const site = list(q.site);
  if (site) f.site = site;
  const rule = list(q.rule);
  if (rule) f.ruleId = rule;
  const source = list(q.source);
  if (source) f.source = source;
  if (q.active !== undefined) f.active = q.active;
  const from = time(q.from, 'from');
  if (from !== undefined) f.from = from;
  const to = time(q.to, 'to');
  if (to !== undefined) f.to = to;
  if (q.limit !== undefined) f.limit = q.limit;
  const allowed = sitesOf(session);
  if (allowed) f.site = (f.site ?? [...allowed]).filter((s) => allowed.has(s));
  return f;
}

function rejected(reply: FastifyReply, e: unknown): unknown {
  if (e instanceof RulesRejected) return reply.status(400).send({ error: { code: e.code, message: e.message, issues: e.issues } });
  if (e instanceof RulesConflict) return reply.status(409).send({ error: { code: e.code, message: e.message, revision: e.revision } });
  throw e;
}

export interface AlarmRoutesOptions {
  alarms: AlarmService;
  /** the site of an alarm source that has no alarm yet (a meter, an agent, a `site/transformer`); for station scopes */
  siteOfSource?: (source: string) => string | undefined;
  /** each rules change is recorded (`rules_changed`) by the server it was made on */
  audit?: AuditLog;
}

export async function alarmRoutes(app: FastifyInstance, opts: AlarmRoutesOptions): Promise<void> {
  const svc = opts.alarms;

  // ---------------------------------------------------------------- station scopes
  // A user scoped to some stations sees and acts on their alarms only; any
  // other alarm is answered exactly as one that does not exist.

  /** The site of an alarm: the alarm's own, else its source's (an alarm not raised yet); undefined when unknown. */
  const siteOfAlarm = (alarmId: string): string | undefined => {
    try {
      return svc.get(alarmId).site;
    } catch {
      const source = alarmId.slice(alarmId.indexOf(':') + 1);
      return opts.siteOfSource?.(source);
    }
  };
  const visibleAlarm = (req: FastifyRequest, alarmId: string): void => {
    const allowed = sitesOf(req.session);
    if (allowed && !siteVisible(allowed, siteOfAlarm(alarmId))) throw new GridwatchError('GW_ERR_ALARM_UNKNOWN', `no alarm ${alarmId}`);
  };
  /** Whether a journal entry is about an alarm of the user's stations (rules changes concern every station). */
  const entryFilter = (req: FastifyRequest): ((e: JournalEntry) => boolean) | null => {
    const allowed = sitesOf(req.session);
    if (!allowed) return null;
    const sites = new Map<string, string | undefined>();
    return (e) => {
      if (e.kind === 'rules') return true;
      if (!sites.has(e.alarmId)) sites.set(e.alarmId, siteOfAlarm(e.alarmId));
      return siteVisible(allowed, sites.get(e.alarmId));
    };
  };
  /** Journal entries a scoped user may see: pages are read on until `limit` of them are found (or the journal ends). */
  const scopedEntries = async (q: JournalQuery & { limit: number }, keep: (e: JournalEntry) => boolean): Promise<JournalEntry[]> => {
    const out: JournalEntry[] = [];
    let afterSeq = q.afterSeq;
    for (let page = 0; page < 100 && out.length < q.limit; page++) {
      const got = await svc.journalEntries({ ...q, ...(afterSeq !== undefined ? { afterSeq } : {}) });
      for (const e of got) if (keep(e) && out.length < q.limit) out.push(e);
      if (got.length < q.limit) break;
      afterSeq = got[got.length - 1]!.seq;
    }
    return out;
  };

  app.get<{ Querystring: { state?: string; severity?: string; site?: string; rule?: string; source?: string; active?: boolean; from?: string; to?: string; limit?: number } }>(
    '/api/alarms',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: ALARM_LIST_PROPERTIES,
        },
      },
    },
    async (req): Promise<AlarmListAnswer> => {
      return svc.list(alarmFilterOf(req.query, req.session));
    },
  );

  app.get<{ Params: { alarmId: string } }>('/api/alarms/:alarmId', { config: { minRole: 'viewer' }, schema: { params: alarmParams } }, async (req): Promise<AlarmAnswer> => {
    visibleAlarm(req, req.params.alarmId);
    return { seq: svc.lastSeq, alarm: svc.get(req.params.alarmId) };
  });

  app.get<{ Params: { alarmId: string }; Querystring: { from?: string; to?: string; limit?: number } }>(
    '/api/alarms/:alarmId/history',
    {
      config: { minRole: 'viewer' },
      schema: {
        params: alarmParams,
        querystring: { type: 'object', additionalProperties: false, properties: { from: TIME, to: TIME, limit: { type: 'integer', minimum: 1, maximum: 100_000 } } },
      },
    },
    async (req): Promise<AlarmHistoryAnswer> => {
      visibleAlarm(req, req.params.alarmId);
      const q: { from?: number; to?: number; limit?: number } = {};
      const from = time(req.query.from, 'from');
      if (from !== undefined) q.from = from;
      const to = time(req.query.to, 'to');
      if (to !== undefined) q.to = to;
      if (req.query.limit !== undefined) q.limit = req.query.limit;
      return { alarmId: req.params.alarmId, events: await svc.history(req.params.alarmId, q) };
    },
  );

  // ---------------------------------------------------------------- operator actions

  const action = <B>(
    name: string,
    minRole: 'operator' | 'admin',
    body: object,
    toAction: (b: B, now: number) => OperatorAction,
  ) =>
    app.post<{ Params: { alarmId: string }; Body: B }>(
      `/api/alarms/:alarmId/${name}`,
      {
        config: { minRole },
        schema: { params: alarmParams, body },
        // `curl -X POST …/acknowledge` without a body is an acknowledgement without a comment
        preValidation: async (req) => {
          if (req.body === undefined || req.body === null) req.body = {} as B;
        },
      },
      async (req): Promise<AlarmAnswer> => {
        visibleAlarm(req, req.params.alarmId);
        const alarm = svc.act(req.params.alarmId, req.session!.username, toAction((req.body ?? {}) as B, svc.now()));
        return { seq: svc.lastSeq, alarm };
      },
    );
  const optionalComment = { type: 'object', additionalProperties: false, properties: { comment: TEXT } };

  action<{ comment?: string }>('acknowledge', 'operator', optionalComment, (b) => (b.comment ? { op: 'acknowledge', comment: b.comment } : { op: 'acknowledge' }));
  action<{ reason: string; until?: string | number; forS?: number }>(
    'shelve',
    'operator',
    {
      type: 'object',
      additionalProperties: false,
      required: ['reason'],
      properties: { reason: { type: 'string', minLength: 1, maxLength: 4000 }, until: { type: 'string', minLength: 1, maxLength: 64 }, forS: { type: 'integer', minimum: 1, maximum: MAX_SHELVE_MS / 1000 } },
    },
    (b, now) => {
      if ((b.until === undefined) === (b.forS === undefined)) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'a shelve needs its expiry: give until (epoch ms or ISO 8601) or forS, one of them');
      const until = b.forS !== undefined ? now + b.forS * 1000 : time(String(b.until), 'until')!;
      // ISA-18.2: shelving is always time-limited; a month is the longest this server accepts
      if (until - now > MAX_SHELVE_MS) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'a shelve may last at most 30 days');
      return { op: 'shelve', reason: b.reason, until };
    },
  );
  action<{ comment?: string }>('unshelve', 'operator', optionalComment, (b) => (b.comment ? { op: 'unshelve', comment: b.comment } : { op: 'unshelve' }));
  action<{ comment: string }>(
    'comment',
    'operator',
    { type: 'object', additionalProperties: false, required: ['comment'], properties: { comment: { type: 'string', minLength: 1, maxLength: 4000 } } },
    (b) => ({ op: 'comment', comment: b.comment }),
  );
  action<{ reason: string }>(
    'remove-from-service',
    'admin',
    { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 4000 } } },
    (b) => ({ op: 'remove_from_service', reason: b.reason }),
  );
  action<{ comment?: string }>('return-to-service', 'admin', optionalComment, (b) => (b.comment ? { op: 'return_to_service', comment: b.comment } : { op: 'return_to_service' }));

  // ---------------------------------------------------------------- journal and health

  app.get<{ Querystring: { kind?: JournalEntryKind; from?: string; to?: string; afterSeq?: number; limit?: number } }>(
    '/api/alarm-events',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            kind: { type: 'string', enum: ['transition', 'escalation', 'rules'] },
            from: TIME,
            to: TIME,
            afterSeq: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 100_000 },
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      const from = time(q.from, 'from');
      const to = time(q.to, 'to');
      const query = {
        ...(q.kind ? { kind: q.kind } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(q.afterSeq !== undefined ? { afterSeq: q.afterSeq } : {}),
        limit: q.limit ?? 10_000,
      };
      const keep = entryFilter(req);
      const events = keep ? await scopedEntries(query, keep) : await svc.journalEntries(query);
      return { seq: svc.lastSeq, events };
    },
  );

  app.get<{ Querystring: { from?: string; to?: string; position?: 'all' | 'site' } }>(
    '/api/alarm-health',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { from: TIME, to: TIME, position: { type: 'string', enum: ['all', 'site'] } } },
      },
    },
    async (req) => {
      const to = time(req.query.to, 'to') ?? svc.now();
      const from = time(req.query.from, 'from') ?? to - 86_400_000;
      if (to <= from) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'to must be after from');
      const keep = entryFilter(req);
      if (!keep) return svc.health(from, to, req.query.position ?? 'all');
      // a scoped user's figures count its stations' alarms only
      const events = ((await svc.journalEntries({ kind: 'transition', to })) as TransitionEntry[]).filter(keep);
      const positionOf = (t: AlarmTransition) => siteOfAlarm(t.alarmId) || '(none)';
      return alarmHealth(events, req.query.position === 'site' ? { from, to, positionOf } : { from, to });
    },
  );

  // ---------------------------------------------------------------- rules

  app.get('/api/alarm-rules', { config: { minRole: 'viewer' }, schema: {} }, async () => svc.rulesInfo());

  app.get<{ Params: { ruleId: string } }>('/api/alarm-rules/:ruleId', { config: { minRole: 'viewer' }, schema: { params: ruleParams } }, async (req) => ({
    rule: svc.rule(req.params.ruleId),
  }));

  const audited = (req: FastifyRequest, ruleId: string, r: { seq: number; revision: number | null }) =>
    opts.audit?.record({ kind: 'rules_changed', actor: req.session?.username ?? '', ip: req.ip, target: ruleId || '(document)', detail: `seq=${r.seq}${r.revision === null ? '' : ` revision=${r.revision}`}` });

  app.put<{ Body: Record<string, unknown>; Querystring: { comment?: string; revision?: number } }>(
    '/api/alarm-rules',
    {
      config: { minRole: 'admin', allSites: true },
      schema: { body: { type: 'object' }, querystring: ruleChangeQuery },
    },
    async (req, reply) => {
      try {
        const r = await svc.putRules(req.body, req.session!.username, req.query.comment, req.query.revision);
        audited(req, '', r);
        return { seq: r.seq, rules: r.rules, revision: r.revision };
      } catch (e) {
        return rejected(reply, e);
      }
    },
  );

  app.put<{ Params: { ruleId: string }; Body: Record<string, unknown>; Querystring: { comment?: string; revision?: number } }>(
    '/api/alarm-rules/:ruleId',
    {
      config: { minRole: 'admin', allSites: true },
      schema: { params: ruleParams, body: { type: 'object' }, querystring: ruleChangeQuery },
    },
    async (req, reply) => {
      try {
        const r = await svc.putRule(req.params.ruleId, req.body, req.session!.username, req.query.comment, req.query.revision);
        audited(req, req.params.ruleId, r);
        return { seq: r.seq, rule: r.rules.find((x) => x.id === req.params.ruleId) ?? null, revision: r.revision };
      } catch (e) {
        return rejected(reply, e);
      }
    },
  );
}
