/**
 * Risk item REST API (docs/risk.md, Closed loop; docs/api.md, Risk). Viewers
 * look at the items of their stations; the station answers (an operator, a
 * station-scoped one only for its own stations); the center verifies (an
 * operator or admin with every station). An item outside the session's
 * stations is answered 404, as if it did not exist.
 */
import type { FastifyInstance } from 'fastify';
import { RISK_ITEM_STATES, RISK_PATHS, type RiskItem, type RiskItemState } from '../../../contract/risk.ts';
import { GridwatchError } from '../../errors.ts';
import type { Notifier } from '../../notify/index.ts';
import { sitesOf } from '../../scope.ts';
import type { RiskItems } from './service.ts';

const ID = { type: 'string', minLength: 1, maxLength: 200 } as const;
const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: ID } } as const;
const TEXT_MAX = 2000;

/** An item with the states of its notices (names only: the phones stay in the directory). */
function view(item: RiskItem, notifier: Notifier | null) {
  const notices = notifier ? notifier.byRef('risk-item', item.id) : [];
  return { ...item, notices: notices.map((m) => ({ id: m.id, to: m.to.name ?? null, person: m.to.person ?? null, state: m.state, updatedAt: m.updatedAt })) };
}

function text(v: string | undefined, name: string, required: boolean): string {
  const t = (v ?? '').trim();
  if (required && !t) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `${name}: must not be empty`);
  return t;
}

export async function riskItemRoutes(app: FastifyInstance, opts: { items: RiskItems; notifier: Notifier | null }): Promise<void> {
  const { items, notifier } = opts;
  const user = (req: { session: { username: string } | null }) => req.session?.username ?? '';

  app.get<{ Querystring: { station?: string; state?: RiskItemState; limit?: number } }>(
    RISK_PATHS.items,
    {
      config: { minRole: 'viewer' },
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { station: { type: 'string', minLength: 1, maxLength: 64 }, state: { enum: [...RISK_ITEM_STATES] }, limit: { type: 'integer', minimum: 1, maximum: 5000 } } } },
    },
    async (req) => {
      const all = items.list({ sites: sitesOf(req.session), ...(req.query.station ? { station: req.query.station } : {}), ...(req.query.state ? { state: req.query.state } : {}) });
      const limit = req.query.limit ?? 1000;
      return { total: all.length, items: all.slice(0, limit).map((it) => view(it, notifier)) };
    },
  );

  app.get<{ Params: { id: string } }>(RISK_PATHS.item, { config: { minRole: 'viewer' }, schema: { params: idParams } }, async (req) => {
    const it = items.get(req.params.id, sitesOf(req.session));
    if (!it) throw new GridwatchError('GW_ERR_RISK_ITEM_UNKNOWN', `no risk item ${req.params.id}`);
    return view(it, notifier);
  });

  // the station answers: a station-scoped operator for its own stations, an operator of the center on its behalf
  app.post<{ Params: { id: string }; Body: { text: string } }>(
    RISK_PATHS.followUp,
    {
      config: { minRole: 'operator' },
      schema: { params: idParams, body: { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string', maxLength: TEXT_MAX } } } },
    },
    async (req) => view(await items.followUp(req.params.id, user(req), text(req.body.text, 'text', true), sitesOf(req.session)), notifier),
  );

  // the center verifies: every station needed (a station-scoped user is refused 403 by the role hook)
  app.post<{ Params: { id: string }; Body: { accept: boolean; comment?: string } }>(
    RISK_PATHS.verify,
    {
      config: { minRole: 'operator', allSites: true },
      schema: { params: idParams, body: { type: 'object', required: ['accept'], additionalProperties: false, properties: { accept: { type: 'boolean' }, comment: { type: 'string', maxLength: TEXT_MAX } } } },
    },
    async (req) => {
      const comment = text(req.body.comment, 'comment', !req.body.accept);
      return view(await items.verify(req.params.id, user(req), req.body.accept, comment), notifier);
    },
  );
}
