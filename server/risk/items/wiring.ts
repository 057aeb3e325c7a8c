/**
 * Risk items as one server process composes them: the journal under
 * `<dataDir>/risk`, the contact directory and the notification port of the
 * notification parts, the station names of the topology.
 */
import type { Logger } from 'pino';
import type { Topology } from '../../../contract/index.ts';
import type { ServerConfig } from '../../config.ts';
import type { NotifyParts } from '../../notify/wiring.ts';
import { riskItemsDir, RiskItems, type ItemsJournal } from './service.ts';

/** `journal`: a cluster's shared journal (server/risk/cluster.ts); absent → `<dataDir>/risk/items.jsonl` */
export function createRiskItems(config: ServerConfig, topology: Topology, notifyParts: NotifyParts, log: Logger, journal?: ItemsJournal): RiskItems {
  const names = new Map(topology.sites.map((s) => [s.id, s.name ?? s.id]));
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  const i = config.risk.items;
  return new RiskItems(
    {
      dir: riskItemsDir(config.dataDir),
      tickMs: i.tickMs,
      compactAbove: 10_000,
      answerWithinHours: i.answerWithinHours,
      stationRoles: i.stationRoles,
      onDutyRoles: i.onDutyRoles,
      leaderRoles: i.leaderRoles,
      notice: {
        lang: config.notify.lang,
        tzOffsetMin: config.notify.tzOffsetMin,
        dashboardUrl: config.risk.dashboardUrl ?? `http://${host}:${config.http.port}/`,
        stationName: (s) => names.get(s) ?? s,
      },
    },
    { contacts: notifyParts.contacts, notifier: notifyParts.notify, log, ...(journal ? { journal } : {}) },
  );
}
