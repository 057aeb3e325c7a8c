/**
 * Customer REST (docs/api.md, Customers):
 *   POST /api/customers/import?partial=&mode=merge|replace&dryRun=   CSV body (admin)
 *   GET  /api/customers?site=&q=&transformer=&line=&feeder=&noContact=&important=&page=&pageSize=
 *   GET  /api/customers/:id
 *   GET  /api/feeders                       feeders with their transformers and customer counts
 *   POST /api/topology/reload               re-reads the topology file (admin, every station)
 *   GET  /api/customers/unplaced            imported customers the topology no longer places (admin)
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { AuditLog } from '../audit.ts';
import { ConfigError, GridwatchError } from '../errors.ts';
import { siteVisible, sitesOf } from '../scope.ts';
import type { IndexedCustomer } from './customer-index.ts';
import type { CustomerStore } from './store.ts';

export interface CustomerRouteDeps {
  customers: CustomerStore;
  audit?: AuditLog;
  /** largest CSV accepted, bytes */
  importMaxBytes: number;
}

/** rejected rows listed in an answer; the count says how many there were in all */
const MAX_LISTED = 1000;

const bool = { type: 'string', enum: ['true', 'false', '1', '0'] } as const;
const yes = (v: string | undefined) => v === 'true' || v === '1';

export const customerRoutes: FastifyPluginAsync<CustomerRouteDeps> = async (app: FastifyInstance, deps) => {
  for (const type of ['text/csv', 'text/plain', 'application/octet-stream', 'application/vnd.ms-excel'])
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: deps.importMaxBytes }, (_req, body, done) => done(null, body));

  app.post<{ Querystring: { partial?: string; mode?: 'merge' | 'replace'; dryRun?: string } }>(
    '/api/customers/import',
    {
      config: { minRole: 'admin', allSites: true },
      bodyLimit: deps.importMaxBytes,
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { partial: bool, dryRun: bool, mode: { type: 'string', enum: ['merge', 'replace'] } } } },
    },
    async (req, reply) => {
      if (!Buffer.isBuffer(req.body) || req.body.length === 0) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'send the CSV as the body (content-type text/csv)');
      const rep = await deps.customers.import(req.body, { partial: yes(req.query.partial), dryRun: yes(req.query.dryRun), mode: req.query.mode ?? 'merge' });
      const body = { ...rep, rejectedCount: rep.rejected.length, rejected: rep.rejected.slice(0, MAX_LISTED) };
      if (rep.imported)
        deps.audit?.record({ kind: 'customers_imported', actor: req.session?.username ?? '', ip: req.ip, detail: `rows=${rep.rows} added=${rep.added} updated=${rep.updated} removed=${rep.removed} rejected=${rep.rejected.length} mode=${req.query.mode ?? 'merge'}` });
      if (rep.fatal) return reply.status(400).send({ error: { code: 'GW_ERR_CUSTOMERS_IMPORT_INVALID', message: rep.fatal }, report: body });
      if (!rep.imported && rep.rejected.length && !yes(req.query.dryRun))
        return reply.status(422).send({ error: { code: 'GW_ERR_CUSTOMERS_IMPORT_REJECTED', message: `${rep.rejected.length} of ${rep.rows} rows rejected; nothing imported (partial=true imports the good rows)` }, report: body });
      return body;
    },
  );

  app.get<{ Querystring: { site?: string; q?: string; transformer?: string; line?: string; feeder?: string; noContact?: string; important?: string; page?: number; pageSize?: number } }>(
    '/api/customers',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            site: { type: 'string', maxLength: 64 }, q: { type: 'string', maxLength: 100 }, transformer: { type: 'string', maxLength: 64 },
            line: { type: 'string', maxLength: 64 }, feeder: { type: 'string', maxLength: 64 }, noContact: bool, important: bool,
            page: { type: 'integer', minimum: 1, default: 1 }, pageSize: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
          },
        },
      },
    },
    async (req) => {
      const allowed = sitesOf(req.session);
      const idx = deps.customers.index;
      const { site, transformer, line, feeder, q } = req.query;
      if ((transformer || line) && !site) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'transformer and line need a site');
      let list: IndexedCustomer[] =
        feeder ? idx.customersUnder({ feeder })
          : site && transformer ? idx.customersUnder({ site, transformer })
            : site && line ? idx.customersUnder({ site, line })
              : site ? idx.customersOfSite(site)
                : [...idx.all()].sort((a, b) => (a.important !== b.important ? (a.important ? -1 : 1) : a.id < b.id ? -1 : 1));
      if (site && (feeder || line)) list = list.filter((c) => c.site === site && (!line || c.line === line));
      if (allowed) list = list.filter((c) => siteVisible(allowed, c.site));
      if (req.query.noContact !== undefined) list = list.filter((c) => c.reachable !== yes(req.query.noContact));
      if (req.query.important !== undefined) list = list.filter((c) => c.important === yes(req.query.important));
      if (q) {
        const needle = q.toLowerCase();
        list = list.filter((c) => c.id.toLowerCase().includes(needle) || c.name.toLowerCase().includes(needle) || (c.meter ?? '').toLowerCase().includes(needle) || (c.account ?? '').toLowerCase().includes(needle) || c.contacts.some((k) => (k.phone ?? '').includes(needle)));
      }
      const page = req.query.page ?? 1;
      const pageSize = req.query.pageSize ?? 50;
      return { total: list.length, page, pageSize, noContact: list.filter((c) => !c.reachable).length, customers: list.slice((page - 1) * pageSize, page * pageSize) };
    },
  );

  app.get('/api/customers/unplaced', { config: { minRole: 'admin', allSites: true } }, async () => ({ unplaced: deps.customers.unplaced() }));

  app.get<{ Params: { id: string } }>('/api/customers/:id', { config: { minRole: 'viewer' } }, async (req) => {
    const c = deps.customers.index.customerById(req.params.id);
    if (!c || !siteVisible(sitesOf(req.session), c.site)) throw new GridwatchError('GW_ERR_HTTP_NOT_FOUND', `no customer ${req.params.id}`);
    return c;
  });

  app.get('/api/feeders', { config: { minRole: 'viewer' } }, async (req) => {
    const allowed = sitesOf(req.session);
    const idx = deps.customers.index;
    return {
      feeders: idx.feeders
        .map((f) => {
          const transformers = idx.transformersOfFeeder(f.id).filter((t) => siteVisible(allowed, t.site));
          const customers = idx.customersUnder({ feeder: f.id }).filter((c) => siteVisible(allowed, c.site));
          return { ...f, transformers, customers: customers.length, important: customers.filter((c) => c.important).length };
        })
        .filter((f) => !allowed || f.transformers.length > 0),
    };
  });

  app.post('/api/topology/reload', { config: { minRole: 'admin', allSites: true } }, async (req, reply) => {
    try {
      const r = await deps.customers.reloadTopology();
      const l = r.layout;
      const layout = l ? ` rooms+=${l.roomsAdded.length} rooms-=${l.roomsRemoved.length} devices+=${l.devicesAdded.length} devices-=${l.devicesRemoved.length} devicesMoved=${l.devicesMoved.length}` : '';
      deps.audit?.record({ kind: 'topology_reloaded', actor: req.session?.username ?? '', ip: req.ip, detail: `added=${r.diff.added.length} removed=${r.diff.removed.length} changed=${r.diff.changed.length} moved=${r.diff.transformersMoved.length}${layout}` });
      return { ok: true, ...r, unplaced: r.unplaced.slice(0, MAX_LISTED), unplacedCount: r.unplaced.length };
    } catch (e) {
      // every problem of the file, each on its own; the running topology is unchanged
      if (e instanceof ConfigError) return reply.status(400).send({ error: { code: 'GW_ERR_HTTP_BAD_REQUEST', message: e.message, issues: e.issues } });
      throw e;
    }
  });
};
