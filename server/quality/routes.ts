/**
 * REST of server/quality (docs/quality.md): the voltage qualification rate of
 * a station's monitoring points for a day or a month (JSON and CSV), and the
 * available capacity of its transformers. Viewer role; a user scoped to some
 * stations asking for another gets 404, as for a station that does not exist.
 */
import type { FastifyInstance } from 'fastify';
import type { Topology } from '../../contract/index.ts';
import { CSV_BOM, CSV_CONTENT_TYPE, csvRow } from '../csv.ts';
import { GridwatchError } from '../errors.ts';
import { siteVisible, sitesOf } from '../scope.ts';
import type { TelemetryStore } from '../store/types.ts';
import { TZ_SCHEMA } from '../routes/history-query.ts';
import { capacityReport, voltageReport } from './read.ts';
import { periodOf } from './voltage.ts';

export interface QualityRoutesOptions {
  store: TelemetryStore;
  topology: Topology;
}

const DEFAULT_TZ = '+08:00';
const SITE = { type: 'string', minLength: 1, maxLength: 64 } as const;
const VOLTAGE_QUERY = {
  type: 'object',
  additionalProperties: false,
  required: ['site'],
  properties: {
    site: SITE,
    day: { type: 'string', minLength: 1, maxLength: 10 },
    month: { type: 'string', minLength: 1, maxLength: 7 },
    tz: TZ_SCHEMA,
  },
} as const;

interface VoltageQuery {
  site: string;
  day?: string;
  month?: string;
  tz?: string;
}

const CSV_HEADERS = {
  en: ['site', 'period', 'device', 'room', 'transformer', 'line', 'class', 'upper limit V', 'lower limit V', 'monitored min', 'inside min', 'above min', 'below min', 'rate %', 'above %', 'below %', 'outage min'],
  zh: ['站点', '统计周期', '监测点(表计)', '配电室', '变压器', '线路', '类别', '上限 V', '下限 V', '监测时间(分)', '合格时间(分)', '超上限时间(分)', '超下限时间(分)', '电压合格率 %', '超上限率 %', '超下限率 %', '停电时间(分)'],
} as const;
const CLASS_WORDS = { en: { single_phase: 'single-phase 220 V', three_phase: 'three-phase 380 V' }, zh: { single_phase: '单相220V', three_phase: '三相380V' } } as const;

export async function qualityRoutes(app: FastifyInstance, opts: QualityRoutesOptions): Promise<void> {
  const siteFor = (id: string, session: Parameters<typeof sitesOf>[0]) => {
    const site = opts.topology.sites.find((s) => s.id === id);
    if (!site || !siteVisible(sitesOf(session), id)) throw new GridwatchError('GW_ERR_HTTP_NOT_FOUND', `no station ${id}`);
    return site;
  };
  const periodFor = (q: VoltageQuery) => {
    if ((q.day === undefined) === (q.month === undefined)) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'give day (YYYY-MM-DD) or month (YYYY-MM), one of them');
    const p = periodOf(q.day, q.month, q.tz ?? DEFAULT_TZ);
    if (!p) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', q.day !== undefined ? `day: not a date YYYY-MM-DD: ${q.day}` : `month: not a month YYYY-MM: ${q.month}`);
    return p;
  };

  app.get<{ Querystring: VoltageQuery }>('/api/quality/voltage', { config: { minRole: 'viewer' }, schema: { querystring: VOLTAGE_QUERY } }, async (req) => {
    const site = siteFor(req.query.site, req.session);
    return { tz: req.query.tz ?? DEFAULT_TZ, ...(await voltageReport(opts.store, site, periodFor(req.query))) };
  });

  app.get<{ Querystring: VoltageQuery & { lang?: 'zh' | 'en' } }>(
    '/api/quality/voltage.csv',
    { config: { minRole: 'viewer' }, schema: { querystring: { ...VOLTAGE_QUERY, properties: { ...VOLTAGE_QUERY.properties, lang: { type: 'string', enum: ['zh', 'en'] } } } } },
    async (req, reply) => {
      const site = siteFor(req.query.site, req.session);
      const period = periodFor(req.query);
      const report = await voltageReport(opts.store, site, period);
      const lang = req.query.lang ?? 'en';
      let out = CSV_BOM + csvRow(CSV_HEADERS[lang]);
      for (const p of report.points)
        out += csvRow([site.id, period.label, p.device, p.room, p.transformer, p.line, p.class === null ? '' : CLASS_WORDS[lang][p.class], p.limits?.phaseHiV, p.limits?.phaseLoV, p.monitoredMin, p.insideMin, p.aboveMin, p.belowMin, p.ratePct, p.abovePct, p.belowPct, p.outageMin]);
      const s = report.summary;
      out += csvRow([site.id, period.label, lang === 'zh' ? '全站' : 'station', '', '', '', '', '', '', s.monitoredMin, s.insideMin, s.aboveMin, s.belowMin, s.ratePct, s.abovePct, s.belowPct, s.outageMin]);
      return reply
        .type(CSV_CONTENT_TYPE)
        .header('content-disposition', `attachment; filename="voltage-${site.id}-${period.label}.csv"`)
        .header('cache-control', 'no-store')
        .send(out);
    },
  );

  app.get<{ Querystring: { site: string; days?: number } }>(
    '/api/capacity',
    {
      config: { minRole: 'viewer' },
      schema: { querystring: { type: 'object', additionalProperties: false, required: ['site'], properties: { site: SITE, days: { type: 'integer', minimum: 1, maximum: 366 } } } },
    },
    async (req) => {
      const site = siteFor(req.query.site, req.session);
      return capacityReport(opts.store, site, Date.now(), req.query.days ?? 30);
    },
  );
}
