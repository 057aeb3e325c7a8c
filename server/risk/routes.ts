/**
 * Risk REST (docs/api.md, Risk): the station ranking of a day, one station's
 * days, an operator's computation of a day, and the model in force. Viewers
 * read; an operator with access to every station computes. A user scoped to
 * some stations sees only their rows; another station answers 404 as if it
 * did not exist.
 */
import type { FastifyInstance } from 'fastify';
import { RISK_PATHS } from '../../contract/risk.ts';
import { GridwatchError } from '../errors.ts';
import { siteVisible, sitesOf } from '../scope.ts';
import { INDICATORS } from './catalogue.ts';
import { addDays, isDay } from './days.ts';
import type { RiskService } from './service.ts';

const DAY = { type: 'string', minLength: 1, maxLength: 32 } as const;
/** days one station-history request may span */
export const MAX_HISTORY_DAYS = 400;

function day(v: string | undefined, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (!isDay(v)) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `${name}: not a date YYYY-MM-DD: ${v}`);
  return v;
}

export async function riskRoutes(app: FastifyInstance, opts: { risk: RiskService }): Promise<void> {
  const risk = opts.risk;

  app.get<{ Querystring: { day?: string } }>(
    RISK_PATHS.ranking,
    { config: { minRole: 'viewer' }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { day: DAY } } } },
    async (req) => {
      const d = day(req.query.day, 'day');
      const allowed = sitesOf(req.session);
      const ranking = await risk.latest(d);
      return { ...ranking, rows: ranking.rows.filter((r) => siteVisible(allowed, r.station)) };
    },
  );

  app.get<{ Params: { station: string }; Querystring: { from?: string; to?: string } }>(
    RISK_PATHS.station,
    {
      config: { minRole: 'viewer' },
      schema: {
        params: { type: 'object', required: ['station'], properties: { station: { type: 'string', minLength: 1, maxLength: 64 } } },
        querystring: { type: 'object', additionalProperties: false, properties: { from: DAY, to: DAY } },
      },
    },
    async (req) => {
      const station = req.params.station;
      const site = risk.stations.find((s) => s.id === station);
      if (!site || !siteVisible(sitesOf(req.session), station)) throw new GridwatchError('GW_ERR_HTTP_NOT_FOUND', `no station ${station}`);
      const to = day(req.query.to, 'to') ?? risk.today();
      const from = day(req.query.from, 'from') ?? addDays(to, -(risk.model.windowDays - 1));
      if (from > to) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `from (${from}) is after to (${to})`);
      if (addDays(from, MAX_HISTORY_DAYS - 1) < to) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `at most ${MAX_HISTORY_DAYS} days at once`);
      return { station, name: site.name, from, to, days: await risk.history(station, from, to) };
    },
  );

  app.post<{ Body: { day?: string } | undefined }>(
    RISK_PATHS.compute,
    { config: { minRole: 'operator', allSites: true }, schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { day: DAY } } } },
    async (req) => {
      const d = day(req.body?.day, 'day');
      // a past day is a figure of record; today's is provisional until the day has ended
      const target = d ?? addDays(risk.today(), -1);
      const days = await risk.computeDay(target, target === risk.today() ? 'provisional' : 'on-demand');
      req.log.info({ day: target, by: req.session?.username }, 'risk day computed on demand');
      return { day: target, days };
    },
  );

  app.get(RISK_PATHS.model, { config: { minRole: 'viewer' } }, async () => {
    const m = risk.model;
    return {
      computeAt: m.computeAt,
      timezone: m.timezone,
      windowDays: m.windowDays,
      provisionalEveryMinutes: m.provisionalEveryMinutes,
      thresholds: m.thresholds,
      hysteresis: m.hysteresis,
      minCoverage: m.minCoverage,
      indicators: m.indicators.map((i) => ({ id: i.id, dimension: i.dimension, direction: i.direction, weight: i.weight, good: i.good, bad: i.bad, unit: INDICATORS[i.id].unit, available: i.available, source: INDICATORS[i.id].source })),
    };
  });
}
