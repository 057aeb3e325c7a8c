/**
 * The line-loss service: computes every area's figures from the store when
 * an interval has closed (after the tolerance and a grace for late
 * readings) and on demand, stores them (`line_loss`), hands them to the
 * alarm rules, and keeps the live 1-minute estimate (docs/energy.md).
 * Only this outer loop reads the clock; the figures are pure functions
 * (compute.ts).
 */
import type { Logger } from 'pino';
import type { Topology } from '../../contract/index.ts';
import type { TelemetryStore } from '../store/types.ts';
import { areasOf, metersOf } from './areas.ts';
import { computeInterval, liveEstimate } from './compute.ts';
import type { EnergyConfig } from './config.ts';
import { intervalStart, intervalsIn, parseUtcOffset } from './intervals.ts';
import { devicesPerQuery, readCounters } from './read.ts';
import { INTERVAL_KINDS, INTERVAL_MS, type Area, type IntervalKind, type LineLossOptions, type LineLossRecord, type LiveLineLoss } from './types.ts';

export interface LineLossServiceDeps {
  store: TelemetryStore;
  topology: Topology;
  config: EnergyConfig;
  log: Logger;
  /** server clock, epoch ms */
  clock?: () => number;
  /** every computed figure, in interval order (the alarm rules, server/rules/kinds/line-loss.ts) */
  onFigures?: (records: readonly LineLossRecord[]) => void;
}

export class LineLossService {
  private areaList: readonly Area[];
  private readonly clock: () => number;
  private readonly opts: LineLossOptions;
  private timer: NodeJS.Timeout | null = null;
  /** the computations run one at a time, in order */
  private queue: Promise<unknown> = Promise.resolve();
  /** zone offset → interval kind → start of the last interval computed on schedule */
  private readonly done = new Map<number, Map<IntervalKind, number>>();
  private live = new Map<string, LiveLineLoss>();
  private liveMinute = 0;
  /** server time of the last live refresh */
  private liveAt = 0;
  private running = false;
  /** cluster mode (server/outages/cluster.ts): whether this server computes the intervals on schedule now */
  private active: () => boolean = () => true;

  constructor(private readonly deps: LineLossServiceDeps) {
    this.clock = deps.clock ?? Date.now;
    this.areaList = areasOf(deps.topology);
    this.opts = { toleranceMs: deps.config.toleranceS * 1000, resetMaxKwh: deps.config.resetMaxKwh, rolloverBand: deps.config.rolloverBand };
  }

  /** the transformer areas of the topology as it is now */
  get areas(): readonly Area[] {
    return this.areaList;
  }

  /**
   * The topology (updated in place by a reload) has a new device layout: the
   * areas follow it from the next interval on; live estimates of areas that are
   * gone are dropped. Figures already stored stay as they were computed.
   */
  topologyChanged(): void {
    this.areaList = areasOf(this.deps.topology);
    const keep = new Set(this.areaList.map((a) => `${a.site}/${a.transformer}`));
    for (const k of [...this.live.keys()]) if (!keep.has(k)) this.live.delete(k);
  }

  /** UTC offset (ms) of a site's intervals. */
  offsetOf(site: string): number {
    return parseUtcOffset(this.deps.config.siteUtcOffsets[site] ?? this.deps.config.utcOffset) ?? 0;
  }

  /** The areas of `sites` (all when absent), grouped by their sites' zone offset. */
  private byOffset(sites?: ReadonlySet<string>): Map<number, Area[]> {
    const out = new Map<number, Area[]>();
    for (const a of this.areas) {
      if (sites && !sites.has(a.site)) continue;
      const off = this.offsetOf(a.site);
      out.set(off, [...(out.get(off) ?? []), a]);
    }
    return out;
  }

  start(): void {
    if (!this.deps.config.enabled || this.running) return;
    this.running = true;
    this.catchUpMarks();
    this.timer = setInterval(() => this.check(), this.deps.config.checkS * 1000);
    this.timer.unref?.();
    this.check();
  }

  /** Cluster mode, before the start: intervals are computed on schedule only while `fn` says so (the live estimate always). */
  setActive(fn: () => boolean): void {
    this.active = fn;
  }

  /** Cluster mode: this server took the schedule over; it catches up as at a start. */
  takeOver(): void {
    if (!this.running) return;
    this.catchUpMarks();
    this.check();
  }

  /** catch up: the last few closed 15-min intervals, and the hours and day they lie in */
  private catchUpMarks(): void {
    const now = this.clock();
    this.done.clear();
    for (const off of this.byOffset().keys()) {
      const m = new Map<IntervalKind, number>();
      for (const kind of INTERVAL_KINDS) {
        const back = kind === '15m' ? this.deps.config.catchUpIntervals * INTERVAL_MS['15m'] : Math.max(this.deps.config.catchUpIntervals * INTERVAL_MS['15m'], INTERVAL_MS[kind]);
        m.set(kind, intervalStart(now - back, kind, off) - INTERVAL_MS[kind]);
      }
      this.done.set(off, m);
    }
  }

  /** Stops the schedule and waits for a computation in progress. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.queue.catch(() => undefined);
  }

  /** One look at the clock: closed intervals not yet computed, and the live estimate. */
  check(): void {
    if (!this.running) return;
    const now = this.clock();
    const wait = this.opts.toleranceMs + this.deps.config.graceS * 1000;
    for (const [off, areas] of this.active() ? this.byOffset() : []) {
      const m = this.done.get(off) ?? new Map<IntervalKind, number>();
      this.done.set(off, m);
      for (const kind of INTERVAL_KINDS) {
        const len = INTERVAL_MS[kind];
        const last = m.get(kind) ?? intervalStart(now - wait, kind, off) - 2 * len;
        const starts: number[] = [];
        for (let s = last + len; s + len + wait <= now; s += len) starts.push(s);
        if (starts.length === 0) continue;
        m.set(kind, starts.at(-1)!);
        for (const s of starts) void this.enqueue(() => this.computeAreas(areas, kind, s)).catch((err) => this.deps.log.error({ err, interval: kind, start: s }, 'line-loss computation failed'));
      }
    }
    // the last full minute that ended at least 5 s ago (readings of its end still arriving)
    const minute = Math.floor((now - 5_000) / 60_000) * 60_000 - 60_000;
    // and again every 15 s: readings of that minute still arriving (a backlog, a restart)
    if (minute > this.liveMinute || now - this.liveAt >= 15_000) {
      this.liveMinute = minute;
      this.liveAt = now;
      void this.enqueue(() => this.refreshLive(minute)).catch((err) => this.deps.log.warn({ err }, 'live line-loss estimate failed'));
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Computes, stores and hands on one interval of `areas`. */
  private async computeAreas(areas: readonly Area[], kind: IntervalKind, start: number): Promise<LineLossRecord[]> {
    if (areas.length === 0) return [];
    const off = this.offsetOf(areas[0]!.site);
    const devices = [...new Set(areas.flatMap(metersOf))];
    const counters = await readCounters(this.deps.store, devices, kind, start, this.opts.toleranceMs, off);
    const at = this.clock();
    const records = areas.map((a) => computeInterval(a, counters, kind, start, this.opts, at));
    await this.deps.store.writeLineLoss(records);
    const incomplete = records.filter((r) => !r.complete).length;
    this.deps.log.info({ interval: kind, start: new Date(start).toISOString(), areas: records.length, incomplete }, 'line loss computed');
    this.deps.onFigures?.(records);
    return records;
  }

  /**
   * Computes (again) the intervals of `kind` lying wholly in [from, to) for
   * the areas of `sites` (all when absent), now: late readings counted.
   */
  compute(kind: IntervalKind, from: number, to: number, sites?: ReadonlySet<string>, transformer?: string): Promise<LineLossRecord[]> {
    return this.enqueue(async () => {
      const out: LineLossRecord[] = [];
      for (const [off, all] of this.byOffset(sites)) {
        const areas = transformer === undefined ? all : all.filter((a) => a.transformer === transformer);
        for (const s of intervalsIn(from, to, kind, off)) out.push(...(await this.computeAreas(areas, kind, s)));
      }
      return out;
    });
  }

  /** The live estimates of the areas of `sites` (all when absent): the last full minute's mean power. */
  liveEstimates(sites?: ReadonlySet<string>): LiveLineLoss[] {
    return [...this.live.values()].filter((l) => !sites || sites.has(l.site));
  }

  private async refreshLive(minute: number): Promise<void> {
    const devices = [...new Set(this.areas.flatMap(metersOf))];
    const mean = new Map<string, number>();
    const per = devicesPerQuery(this.deps.store);
    for (let i = 0; i < devices.length; i += per) {
      const series = await this.deps.store.history({ devices: devices.slice(i, i + per), quantities: ['p'], from: minute, to: minute + 60_000, stepMs: 60_000, aggregate: 'mean' });
      for (const s of series) if (typeof s.values[0] === 'number') mean.set(s.device, s.values[0]);
    }
    const next = new Map<string, LiveLineLoss>();
    for (const a of this.areas) next.set(`${a.site}/${a.transformer}`, liveEstimate(a, mean, minute));
    this.live = next;
  }
}
