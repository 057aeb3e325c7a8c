/**
 * The risk runtime (docs/risk.md, Runtime): computes every station's day
 * from the running server's data with the model, keeps it in the history,
 * and tells the listeners (risk items). Runs daily at `computeAt` in the
 * model's time zone for the day that has just ended, on demand, and — when
 * `provisionalEveryMinutes` is set — a provisional run of today. A daily run
 * missed while the server was down is made at start. Computations run one
 * at a time, in the order asked. Only this loop reads the clock.
 */
import type { Logger } from 'pino';
import type { Site } from '../../contract/index.ts';
import type { RiskRanking, RiskRankingRow, RiskRunKind, StationRiskDay } from '../../contract/risk.ts';
import { GridwatchError } from '../errors.ts';
import { addDays, dayOf, daysBetween, isDay, windowOf } from './days.ts';
import type { RiskHistory, RiskRecord } from './history.ts';
import type { RiskModel } from './model.ts';
import { nextComputeTime, scoreStation, type HysteresisState, type IndicatorValues } from './score.ts';

export interface RiskServiceDeps {
  model: RiskModel;
  history: RiskHistory;
  /** every station's indicator values for a window */
  inputs: { gather(window: { from: number; to: number }, now: number): Promise<Map<string, IndicatorValues>> };
  /** the stations: the topology's sites as they are now (a topology reload changes them) */
  sites: () => readonly Site[];
  log: Logger;
  clock?: () => number;
}

export type RiskListener = (days: StationRiskDay[]) => void | Promise<void>;

/** scores kept in a ranking row's trend */
const TREND_DAYS = 30;
/** high-risk days of a month above which a station is singled out */
export const FLAG_DAYS = 7;
const RANK = { red: 2, yellow: 1, green: 0 } as const;

export class RiskService {
  readonly model: RiskModel;
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly listeners = new Set<RiskListener>();
  private queue: Promise<unknown> = Promise.resolve();
  private daily: NodeJS.Timeout | null = null;
  private provisional: NodeJS.Timeout | null = null;
  private provisionalPending = false;
  private running = false;
  private openItems: (station: string) => number = () => 0;
  /** whether this server runs the scheduled runs (a cluster's risk lease holder; always when alone) */
  private active: () => boolean = () => true;
  /** the catch-up run at start, when one was due (tests wait for it) */
  catchUp: Promise<void> = Promise.resolve();

  constructor(private readonly deps: RiskServiceDeps) {
    this.model = deps.model;
    this.clock = deps.clock ?? Date.now;
    this.log = deps.log;
  }

  get stations(): readonly Site[] {
    return this.deps.sites();
  }

  async start(): Promise<void> {
    await this.deps.history.start();
    this.running = true;
    this.scheduleDaily();
    const every = this.model.provisionalEveryMinutes;
    if (every > 0)
      this.provisional = setInterval(() => {
        // one still waiting or running: this tick is skipped, not queued behind it (runs slower than the interval would pile up)
        if (this.provisionalPending) return;
        this.provisionalPending = true;
        void this.run(this.today(), 'provisional').finally(() => (this.provisionalPending = false));
      }, every * 60_000);
    this.catchUp = this.catchUpMissed();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.daily) clearTimeout(this.daily);
    if (this.provisional) clearInterval(this.provisional);
    this.daily = this.provisional = null;
    await this.catchUp.catch(() => undefined);
    await this.queue.catch(() => undefined);
    await this.deps.history.stop();
  }

  /** Listeners get every computed set of days, after it is stored; one failing is logged. */
  onComputed(listener: RiskListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** How many open risk items a station has (the items service sets it; 0 until then). */
  setOpenItems(fn: (station: string) => number): void {
    this.openItems = fn;
  }

  /**
   * In a cluster only the holder of the risk lease makes the daily and
   * provisional runs and the catch-up (server/risk/cluster-lease.ts); the
   * others skip them. On-demand computations run on any server.
   */
  setActive(fn: () => boolean): void {
    this.active = fn;
  }

  /** The missed-daily-run check again (the risk lease was just taken): resolves when it ran. */
  catchUpNow(): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.catchUp = this.catchUp.then(() => this.catchUpMissed());
    return this.catchUp;
  }

  /** Today in the model's time zone. */
  today(): string {
    return dayOf(this.clock(), this.model.timezone);
  }

  /**
   * Computes every station's `day` and stores it, replacing what was stored
   * for that day. The hysteresis starts from the state the latest stored day
   * before it left; later days already stored are not recomputed.
   */
  computeDay(day: string, run: RiskRunKind): Promise<StationRiskDay[]> {
    if (!isDay(day)) return Promise.reject(new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `day: not a date YYYY-MM-DD: ${day}`));
    if (day > this.today()) return Promise.reject(new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `day: ${day} has not begun (today is ${this.today()})`));
    const next = this.queue.then(() => this.compute(day, run));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async compute(day: string, run: RiskRunKind): Promise<StationRiskDay[]> {
    const m = this.model;
    const now = this.clock();
    const window = windowOf(day, m.windowDays, m.timezone, now);
    const values = await this.deps.inputs.gather(window, now);
    const before = await this.deps.history.read({ from: addDays(day, -m.windowDays), to: addDays(day, -1) });
    const prev = new Map<string, HysteresisState | null>();
    // in day order: the latest stored day before `day` wins
    for (const r of before) prev.set(r.day.station, r.state);
    const records: RiskRecord[] = this.deps.sites().map((site) => {
      const r = scoreStation(m, values.get(site.id) ?? {}, prev.get(site.id) ?? null);
      const d: StationRiskDay = {
        station: site.id,
        day,
        computedAt: now,
        run,
        window,
        score: r.score,
        coverage: Math.round(r.coverage * 1000) / 1000,
        rawCode: r.rawCode,
        code: r.code,
        driving: r.driving,
        dimensions: r.dimensions,
        indicators: r.indicators.map((i) => ({ ...i, normalised: i.normalised === null ? null : Math.round(i.normalised * 100) / 100, contribution: i.contribution === null ? null : Math.round(i.contribution * 100) / 100 })),
      };
      return { day: d, state: r.state };
    });
    await this.deps.history.put(records);
    const days = records.map((r) => r.day);
    this.log.info({ day, run, stations: days.length, red: days.filter((d) => d.code === 'red').length, yellow: days.filter((d) => d.code === 'yellow').length }, 'risk day computed');
    for (const l of this.listeners) {
      try {
        await l(days);
      } catch (err) {
        this.log.error({ err, day }, 'a risk listener failed');
      }
    }
    return days;
  }

  /** One station's stored days, `from` to `to` included, in order. */
  async history(station: string, from: string, to: string): Promise<StationRiskDay[]> {
    return (await this.deps.history.read({ from, to, station })).map((r) => r.day);
  }

  /** Every station's stored days, `from` to `to` included, by station and day: one read for the reports' sheets. */
  async historyAll(from: string, to: string): Promise<StationRiskDay[]> {
    return (await this.deps.history.read({ from, to })).map((r) => r.day);
  }

  /**
   * The ranking of the stations for `day` (default: the latest day stored,
   * today's provisional figures included), worst first: code, then score;
   * stations without a code last.
   */
  async latest(day?: string): Promise<RiskRanking> {
    const d = day ?? (await this.deps.history.lastDay(this.today())) ?? this.today();
    const from = [addDays(d, -(TREND_DAYS - 1)), `${d.slice(0, 8)}01`].sort()[0]!;
    const records = await this.deps.history.read({ from, to: d });
    const byStation = new Map<string, StationRiskDay[]>();
    for (const r of records) byStation.set(r.day.station, [...(byStation.get(r.day.station) ?? []), r.day]);
    const trendDays = daysBetween(addDays(d, -(TREND_DAYS - 1)), d);
    let computedAt: number | null = null;
    const rows: RiskRankingRow[] = this.deps.sites().map((site) => {
      const days = byStation.get(site.id) ?? [];
      const at = new Map(days.map((x) => [x.day, x]));
      const today = at.get(d);
      if (today && (computedAt === null || today.computedAt > computedAt)) computedAt = today.computedAt;
      const previous = days.filter((x) => x.day < d && x.score !== null).at(-1);
      const high = days.filter((x) => x.day.slice(0, 7) === d.slice(0, 7) && (x.code === 'red' || x.code === 'yellow')).length;
      return {
        station: site.id,
        name: site.name,
        day: d,
        code: today?.code ?? null,
        score: today?.score ?? null,
        previousScore: previous?.score ?? null,
        trend: trendDays.map((x) => at.get(x)?.score ?? null),
        driving: today?.driving ?? null,
        highRiskDaysThisMonth: high,
        flagged: high > FLAG_DAYS,
        openItems: this.openItems(site.id),
      };
    });
    rows.sort((a, b) => (b.code === null ? -1 : RANK[b.code]) - (a.code === null ? -1 : RANK[a.code]) || (b.score ?? -1) - (a.score ?? -1) || (a.station < b.station ? -1 : 1));
    return { day: d, computedAt, rows };
  }

  private run(day: string, run: RiskRunKind): Promise<void> {
    if (!this.running || !this.active()) return Promise.resolve();
    return this.computeDay(day, run).then(
      () => undefined,
      (err) => this.log.error({ err, day, run }, 'risk computation failed'),
    );
  }

  /** the daily run: at `computeAt` the day that has just ended */
  private scheduleDaily(): void {
    if (!this.running) return;
    const due = nextComputeTime(this.model, new Date(this.clock())).getTime();
    this.daily = setTimeout(() => {
      void this.run(addDays(dayOf(due, this.model.timezone), -1), 'daily').then(() => this.scheduleDaily());
    }, Math.max(0, due - this.clock()));
    this.daily.unref?.();
  }

  /** The day the last daily run due before now was for; run it when no daily or on-demand figure is stored. */
  private async catchUpMissed(): Promise<void> {
    if (!this.active()) return;
    const now = this.clock();
    const lastDue = nextComputeTime(this.model, new Date(now)).getTime() - 86_400_000;
    const day = addDays(dayOf(lastDue, this.model.timezone), -1);
    try {
      const stored = await this.deps.history.read({ from: day, to: day });
      if (stored.some((r) => r.day.run !== 'provisional')) return;
      this.log.info({ day }, 'risk: the daily run of the last complete day was missed; running it now');
      await this.run(day, 'daily');
    } catch (err) {
      this.log.error({ err, day }, 'risk: checking for a missed daily run failed');
    }
  }
}
