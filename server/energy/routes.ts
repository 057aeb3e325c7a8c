/**
 * REST of line loss (docs/energy.md, REST; docs/api.md): figures per
 * interval, the worst areas of a day, one area's history, the live
 * estimate, a recomputation on demand and the CSV export. Station scopes
 * as everywhere: a site outside the user's stations does not exist.
 */
import type { FastifyInstance } from 'fastify';
import { GridwatchError } from '../errors.ts';
import { sitesOf } from '../scope.ts';
import type { TelemetryStore } from '../store/types.ts';
import { time } from '../alarms/routes.ts';
import { CSV_BOM, CSV_CONTENT_TYPE, csvRow, isoInZone } from '../csv.ts';
import type { LineLossService } from './service.ts';
import { INTERVAL_KINDS, INTERVAL_MS, type IntervalKind, type LineLossRecord } from './types.ts';

export interface EnergyRoutesOptions {
  store: TelemetryStore;
  energy: LineLossService;
}

const DAY = 86_400_000;
/** the longest window one request covers, per interval length: 10,000 intervals at most */
const MAX_INTERVALS = 10_000;
const INTERVAL = { type: 'string', enum: INTERVAL_KINDS } as const;
const TIME = { type: 'string', minLength: 1, maxLength: 64 } as const;
const SITES = { type: 'string', maxLength: 4096 } as const;
const LANG = { type: 'string', enum: ['zh', 'en'] } as const;

const CSV_HEADERS = {
  en: ['site', 'room', 'transformer', 'interval', 'start', 'end', 'complete', 'supply kWh', 'sales kWh', 'loss kWh', 'loss %', 'meters', 'missing meters', 'reason', 'counter events'],
  zh: ['站点', '配电室', '台区(变压器)', '周期', '开始', '结束', '完整', '供电量 kWh', '售电量 kWh', '损失电量 kWh', '线损率 %', '表计数', '缺数表计', '原因', '计数器事件'],
} as const;

/** Worst first: complete figures by loss rate, highest first; then those without a rate. */
export function rankFigures(records: readonly LineLossRecord[]): LineLossRecord[] {
  return [...records].sort((a, b) => {
    if (a.lossPct === null || b.lossPct === null) return a.lossPct === null ? (b.lossPct === null ? 0 : 1) : -1;
    return b.lossPct - a.lossPct;
  });
}

export async function energyRoutes(app: FastifyInstance, opts: EnergyRoutesOptions): Promise<void> {
  const { store, energy } = opts;
  // the areas follow a topology reload: the sites with areas are those of now
  const knownSites = () => new Set(energy.areas.map((a) => a.site));

  /** The sites asked for (comma list), those the user may see; unknown or hidden ones are refused as not found. */
  const sitesFor = (req: { session: unknown }, site: string | undefined): string[] => {
    const allowed = sitesOf(req.session as Parameters<typeof sitesOf>[0]);
    const visible = [...knownSites()].filter((s) => !allowed || allowed.has(s)).sort();
    if (site === undefined || site === '') return visible;
    const asked = site.split(',').map((s) => s.trim()).filter(Boolean);
    for (const s of asked) if (!visible.includes(s)) throw new GridwatchError('GW_ERR_HTTP_NOT_FOUND', `no site ${s} with transformer areas`);
    return asked;
  };
  const windowOf = (interval: IntervalKind, from: string | undefined, to: string | undefined, defaultSpan: number) => {
    const now = Date.now();
    const t = time(to, 'to') ?? now;
    const f = time(from, 'from') ?? t - defaultSpan;
    if (f >= t) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'from must be before to');
    if ((t - f) / INTERVAL_MS[interval] > MAX_INTERVALS) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `at most ${MAX_INTERVALS} intervals of ${interval} per request; narrow the window`);
    return { from: f, to: t };
  };

  app.get<{ Querystring: { site?: string; interval?: IntervalKind; from?: string; to?: string } }>(
    '/api/energy/line-loss',
    { config: { minRole: 'viewer' }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { site: SITES, interval: INTERVAL, from: TIME, to: TIME } } } },
    async (req) => {
      const interval = req.query.interval ?? '15m';
      const sites = sitesFor(req, req.query.site);
      const { from, to } = windowOf(interval, req.query.from, req.query.to, interval === '1d' ? 7 * DAY : DAY);
      const figures = sites.length ? await store.lineLoss({ interval, from, to, sites }) : [];
      return { interval, from, to, figures };
    },
  );

  app.get<{ Querystring: { site: string; day?: string; limit?: number } }>(
    '/api/energy/line-loss/rank',
    {
      config: { minRole: 'viewer' },
      schema: { querystring: { type: 'object', additionalProperties: false, required: ['site'], properties: { site: { type: 'string', minLength: 1, maxLength: 64 }, day: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, limit: { type: 'integer', minimum: 1, maximum: 10_000 } } } },
    },
    async (req) => {
      const [site] = sitesFor(req, req.query.site);
      const off = energy.offsetOf(site!);
      // the local day asked for, else yesterday (the last complete day)
      const day = req.query.day ?? new Date(Date.now() + off - DAY).toISOString().slice(0, 10);
      const from = Date.parse(`${day}T00:00:00Z`) - off;
      if (!Number.isFinite(from)) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `day: ${day} is not a date`);
      const figures = await store.lineLoss({ interval: '1d', from, to: from + DAY, sites: [site!] });
      const ranked = rankFigures(figures).slice(0, req.query.limit ?? 10_000);
      return { site, day, from, to: from + DAY, areas: ranked.map((r, i) => ({ rank: i + 1, ...r })) };
    },
  );

  app.get<{ Querystring: { site?: string } }>(
    '/api/energy/line-loss/live',
    { config: { minRole: 'viewer' }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { site: SITES } } } },
    async (req) => ({ estimates: energy.liveEstimates(new Set(sitesFor(req, req.query.site))) }),
  );

  app.get<{ Params: { site: string; transformer: string }; Querystring: { interval?: IntervalKind; from?: string; to?: string } }>(
    '/api/energy/line-loss/:site/:transformer',
    { config: { minRole: 'viewer' }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { interval: INTERVAL, from: TIME, to: TIME } } } },
    async (req) => {
      const { site, transformer } = req.params;
      sitesFor(req, site);
      const area = energy.areas.find((a) => a.site === site && a.transformer === transformer);
      if (!area) throw new GridwatchError('GW_ERR_HTTP_NOT_FOUND', `no transformer area ${site}/${transformer}`);
      const interval = req.query.interval ?? '1d';
      const { from, to } = windowOf(interval, req.query.from, req.query.to, interval === '1d' ? 30 * DAY : DAY);
      const figures = await store.lineLoss({ interval, from, to, sites: [site], transformer });
      return { area, interval, from, to, figures };
    },
  );

  app.post<{ Body: { interval: IntervalKind; from: string; to: string; site?: string; transformer?: string } }>(
    '/api/energy/line-loss/compute',
    {
      config: { minRole: 'operator' },
      schema: {
        body: {
          type: 'object', additionalProperties: false, required: ['interval', 'from', 'to'],
          properties: { interval: INTERVAL, from: TIME, to: TIME, site: SITES, transformer: { type: 'string', minLength: 1, maxLength: 64 } },
        },
      },
    },
    async (req) => {
      const interval = req.body.interval;
      const sites = sitesFor(req, req.body.site);
      const { from, to } = windowOf(interval, req.body.from, req.body.to, DAY);
      if ((to - from) / INTERVAL_MS[interval] > 3 * 96) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'a recomputation covers at most 288 intervals; split the window');
      const figures = await energy.compute(interval, from, to, new Set(sites), req.body.transformer);
      return { interval, from, to, figures };
    },
  );

  app.get<{ Querystring: { site?: string; interval?: IntervalKind; from?: string; to?: string; tz?: string; lang?: 'zh' | 'en' } }>(
    '/api/energy/line-loss.csv',
    {
      config: { minRole: 'viewer' },
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { site: SITES, interval: INTERVAL, from: TIME, to: TIME, lang: LANG, tz: { type: 'string', pattern: '^(Z|[+-]\\d{2}:\\d{2})$' } } } },
    },
    async (req, reply) => {
      const q = req.query;
      const interval = q.interval ?? '1d';
      const sites = sitesFor(req, q.site);
      const { from, to } = windowOf(interval, q.from, q.to, interval === '1d' ? 30 * DAY : DAY);
      const tz = q.tz ?? '+08:00';
      const figures = sites.length ? await store.lineLoss({ interval, from, to, sites }) : [];
      let body = CSV_BOM + csvRow([...CSV_HEADERS[q.lang ?? 'en']]);
      for (const r of figures)
        body += csvRow([
          r.site, r.room, r.transformer, r.interval, isoInZone(r.start, tz), isoInZone(r.end, tz), r.complete,
          r.supplyKwh, r.salesKwh, r.lossKwh, r.lossPct, r.meters, r.missing.join(' '), r.reason ?? '',
          r.events.map((e) => `${e.device} ${e.quantity} ${e.kind} ${isoInZone(e.at, tz)} ${e.from}→${e.to}`).join('; '),
        ]);
      return reply
        .type(CSV_CONTENT_TYPE)
        .header('content-disposition', `attachment; filename="line-loss-${interval}.csv"`)
        .header('cache-control', 'no-store')
        .send(body);
    },
  );
}
