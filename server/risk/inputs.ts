/**
 * The indicator values of every station for one window, gathered from the
 * running server (docs/risk.md, Inputs): the outage pool (records, tickets,
 * frequent-outage customers, plan notices), the alarm journal (alarm
 * handling, one-key calls), voltage qualification, transformer load and
 * meter communication from the stored readings, and the stored line-loss
 * figures. A source the server does not have leaves its
 * indicators without a value (no data); nothing is estimated.
 */
import type { JournalEntry, Site } from '../../contract/index.ts';
import type { OutagePool } from '../outages/pool.ts';
import type { JournalQuery } from '../alarms/journal.ts';
import type { TelemetryStore } from '../store/types.ts';
import { alarmHandling } from './alarm-indicators.ts';
import { oneKeyCalls } from './call-indicators.ts';
import { noticesLateOrWrong } from './notice-indicators.ts';
import { outageDemand } from './outage-indicators.ts';
import type { IndicatorValues } from './score.ts';
import { StoreIndicatorReader } from './store-indicators.ts';

/** a daily line-loss figure above this is abnormal (the built-in `line-loss-high` rule's limit) */
export const LOSS_HIGH_PCT = 10;
/** a daily line-loss figure below this is abnormal (the built-in `line-loss-negative` rule's limit) */
export const LOSS_NEGATIVE_PCT = -1;

export interface RiskSources {
  /** the topology's sites as they are now (a topology reload changes them) */
  sites(): readonly Site[];
  store: TelemetryStore;
  /** the outage pool; absent → its indicators have no data */
  pool?: OutagePool;
  /** the alarm journal and which rules are one-key call rules; absent → no data */
  alarms?: { journalEntries(q: JournalQuery): Promise<JournalEntry[]>; callRules(): ReadonlySet<string> };
  /** the station of an alarm source (a meter, sensor, agent, `site/transformer`, site) */
  stationOfSource(source: string): string | undefined;
  timezone: string;
}

export class RiskInputs {
  private stored: StoreIndicatorReader;
  private sitesSeen: readonly Site[] | null = null;

  constructor(private readonly src: RiskSources) {
    this.stored = new StoreIndicatorReader(src.store, src.timezone);
  }

  /** Every station's values for the window [from, to). */
  async gather(window: { from: number; to: number }, now: number): Promise<Map<string, IndicatorValues>> {
    const sites = this.src.sites();
    if (sites !== this.sitesSeen) {
      // a topology reload: the days kept were read for the meters as they were
      this.sitesSeen = sites;
      this.stored = new StoreIndicatorReader(this.src.store, this.src.timezone);
    }
    const stations = sites.map((s) => s.id);
    const out = new Map<string, IndicatorValues>(stations.map((s) => [s, {}]));
    const merge = (m: ReadonlyMap<string, object>) => {
      for (const [s, v] of m) Object.assign(out.get(s) ?? {}, v);
    };
    const pool = this.src.pool;
    if (pool) {
      const customers = new Map<string, number>();
      for (const c of pool.grid.customers.values()) customers.set(c.site, (customers.get(c.site) ?? 0) + 1);
      merge(
        outageDemand(
          { records: [...pool.records.values()], tickets: [...pool.tickets.values()], siteOfCustomer: (c) => pool.grid.customers.get(c)?.site, customers, frequentMin: pool.options.frequentMin },
          stations,
          window,
        ),
      );
      merge(noticesLateOrWrong([...pool.plans.values()], stations, window));
    }
    const alarms = this.src.alarms;
    if (alarms) {
      const entries = await alarms.journalEntries({ from: window.from, to: window.to });
      const calls = new Set(['call', ...alarms.callRules()]);
      const isCall = (r: string) => calls.has(r);
      // a one-key call is answered by taking it: it has its own indicators, not the alarm handling ones
      merge(alarmHandling(entries.filter((e) => !('ruleId' in e) || !isCall(e.ruleId)), this.src.stationOfSource, stations, window));
      merge(oneKeyCalls(entries, isCall, this.src.stationOfSource, stations, window));
    }
    merge(await this.lossAreas(sites, window));
    merge(await this.stored.read(sites, window, now));
    return out;
  }

  /**
   * Transformer areas of each station with at least one complete daily
   * line-loss figure in the window above LOSS_HIGH_PCT or below
   * LOSS_NEGATIVE_PCT. A station without any complete daily figure has no data.
   */
  private async lossAreas(sites: readonly Site[], window: { from: number; to: number }): Promise<Map<string, { 'abnormal-loss-areas': number | null }>> {
    const records = await this.src.store.lineLoss({ interval: '1d', from: window.from, to: window.to });
    const complete = new Map<string, Set<string>>();
    const abnormal = new Map<string, Set<string>>();
    for (const r of records) {
      if (!r.complete || r.lossPct === null) continue;
      const add = (m: Map<string, Set<string>>) => m.set(r.site, (m.get(r.site) ?? new Set()).add(r.transformer));
      add(complete);
      if (r.lossPct > LOSS_HIGH_PCT || r.lossPct < LOSS_NEGATIVE_PCT) add(abnormal);
    }
    return new Map(sites.map((s) => [s.id, { 'abnormal-loss-areas': complete.has(s.id) ? (abnormal.get(s.id)?.size ?? 0) : null }]));
  }
}
