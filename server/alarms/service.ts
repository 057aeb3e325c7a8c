/**
 * The alarm service: the outer loop around the pure core of server/rules
 * (docs/alarms.md), wired as server/rules/index.ts describes. It reads the clock,
 * holds the running state, and talks to the journal, the WebSocket hub and
 * the escalation webhook; every decision is the core's.
 *
 *  - every accepted live reading (ingest.onReadings, before it is stored):
 *    outage rule first, then outage correlation by topology, then every
 *    other rule of the device — a consequence alarm of a dark meter is born
 *    suppressed. Late (backfilled) readings are skipped: stored, never
 *    alarmed on (docs/design.md, Guarantees: backfill is not live).
 *  - a one-key call (ingest.onCall) → the call rule → the most urgent alarm,
 *    which one operator takes by acknowledging it;
 *  - agent presence (ingest.onAgentState): an agent whose presence is
 *    `offline` (retained state / last will) raises ONE comm-loss alarm on the
 *    agent itself (`<stale rule>:<agent>`, listing its rooms and devices);
 *    every alarm of its rooms' devices, their own comm-loss alarms included,
 *    is suppressed by design while it lasts, and after it is `online` again
 *    for as long as the stale rule gives a meter to report (so meters that
 *    have not polled yet do not annunciate on reconnection). The agent alarm
 *    clears when the agent is `online`;
 *  - a timer (`tickMs`): time-driven evaluation (stale data, delays expiring
 *    without a reading, the end of a call), correlation, shelve expiry,
 *    escalation.
 *
 * Every transition gets the next global `seq`, is pushed at once on the
 * WebSocket (`{ type: 'alarm', seq, prevSeq, transition, alarm }`, never
 * conflated) to the clients whose subscription covers its site or room (a
 * narrowed client tells a jump over other sites' frames from a gap by
 * `prevSeq`, see LiveHub.pushAlarm)
 * and queued for the journal, which is written in order in the background
 * (retried until stored; drained at stop) so alarm latency never waits for
 * the store. At start the alarm set is rebuilt from the journal and the rule
 * states saved at the last stop (or the last periodic save) are resumed and
 * reconciled with it; a save never runs ahead of the journal (state-store.ts).
 *  - the server's broker connection (ingest.onConnection): lost → ONE broker
 *    alarm and no stale evaluation until it is back; back → the alarm clears
 *    and silence is counted from then (presence.ts). Late readings count as
 *    heard from for the stale rules.
 *
 * Time. Sampled rules (threshold, rate of change, unbalance, anomaly) are
 * ticked on their source's own timeline: server time minus the lag of the
 * source's last reading (arrival − ts; negative, down to −CLOCK_AHEAD_MS,
 * for an agent whose clock runs ahead). Live, the lag is the transport
 * delay (milliseconds); for a replayed feed stamped in the past the ticks
 * follow the feed's clock instead of closing its 1-min means and delays
 * early. Stale, outage and call rules use server time (they are about what
 * the server has received).
 *
 * Files. Queries and views are in queries.ts, rules administration in
 * rules-admin.ts, escalation in escalation.ts, rule-state persistence in
 * state-store.ts, broker presence in presence.ts, the journal queue in
 * journal-writer.ts. This file stays over 400 lines because it is the
 * evaluation itself: inputs, ticks, outage correlation, agent suppression
 * and applying operations all read and change the same alarm map and rule
 * states in one synchronous step, and splitting them would spread one
 * invariant (every transition gets the next seq, is journaled and pushed
 * in order) over several files.
 */
import type { Logger } from 'pino';
import { parseCallPayload } from '../../contract/index.ts';
import {
  agentPlaces,
  agentSuppressions,
  planAgentOps,
  staleAfterMs,
  applyOp,
  applyTransition,
  callInput,
  correlateOutages,
  dueShelfExpiries,
  initialState,
  isSampled,
  mostUrgentSeverity,
  planOutageOps,
  planSuppressionOps,
  parseAlarmId,
  rebuild,
  resume,
  rulesForDevice,
  judgedQuantities,
  carriesAny,
  ruleCovers,
  scopeMatchesSite,
  readingTime,
  step,
  stepOwned,
  supplyStatus,
  tick,
  toAlarmOp,
  annunciates,
  type AgentPlace,
  type Alarm,
  type AlarmHealth,
  type AlarmOp,
  type AlarmResult,
  type AlarmTransition,
  type JsonObject,
  type OutageCorrelation,
  type OutageRule,
  type Rule,
  type RuleInput,
  type RuleSet,
  type RuleState,
  type StaleRule,
  type Suppression,
} from '../rules/index.ts';
import type { StoredReading } from '../store/types.ts';
import type { AlarmScope } from '../live-hub.ts';
import { GridwatchError } from '../errors.ts';
import type { EscalationEntry, JournalEntry, JournalQuery, RulesEntry, TransitionEntry } from './journal.ts';
import { Escalator } from './escalation.ts';
import { AlarmQueries } from './queries.ts';
import { RulesAdmin } from './rules-admin.ts';
import type { AlarmFilter, AlarmFrame, AlarmServiceDeps, AlarmsSnapshotFrame, AlarmView, OperatorAction } from './service-types.ts';
import { readStateFile, reconcileStates, serialiseInSlices, stateFile, writeStateFile, type PersistedState } from './state-store.ts';
import { BROKER_SOURCE, BrokerPresence, brokerRule, planBrokerOps, restartSilence } from './presence.ts';
import { JournalWriter } from './journal-writer.ts';

/** operators' actions the owner of an alarm decides again when another server made them from a state it left (applyRemote) */
const REDECIDED = new Set(['acknowledge', 'shelve', 'unshelve', 'remove_from_service', 'return_to_service', 'comment']);

// options, ports and views (routes and the index import them from here)
export * from './service-types.ts';

const EMPTY_CORRELATION: OutageCorrelation = { conditions: [], suppress: [] };

/** A rule and its states by source, as evaluated per reading. */
interface Evaluated<R extends Readonly<Rule> = Readonly<Rule>> {
  rule: R;
  states: Map<string, RuleState>;
  /** the quantities the rule judges (judgedQuantities): a reading with none of them is not stepped; null = every reading */
  qs: readonly string[] | null;
}

/** What the per-reading path needs of a device, found with one lookup. */
interface DeviceEntry {
  /** the rules below are those of rules generation `generation`; rebuilt lazily after a change */
  generation: number;
  outage: Evaluated<OutageRule>[];
  other: Evaluated[];
  /** ms the device's last live reading arrived after its own timestamp (≥ 0) */
  lag: number;
  /** the site its readings came from ('' until one did) */
  site: string;
}

export class AlarmService {
  private readonly log: Logger;
  private readonly clock: () => number;
  private running = false;

  private rules: RuleSet = [];
  private ruleById = new Map<string, Readonly<Rule>>();
  private generation = 0;
  private readonly deviceEntries = new Map<string, DeviceEntry>();

  private readonly alarms = new Map<string, Alarm>();
  /** ruleId → source → state */
  private readonly states = new Map<string, Map<string, RuleState>>();
  private readonly offlineAgents = new Set<string>();
  /** agents whose presence is `online`, and since when (server time) */
  private readonly onlineAgents = new Map<string, number>();
  /** agents named by the topology */
  private readonly agents: Map<string, AgentPlace>;
  /** agent → its enabled stale rules (those covering one of its devices), for rules generation `agentRulesGeneration` */
  private agentRules = new Map<string, StaleRule[]>();
  private agentRulesGeneration = -1;
  private agentAlarmsChecked = -1;
  /** source → design suppressions in force (outage, agent offline, planned outage) */
  private suppressions = new Map<string, Suppression[]>();
  /** design suppressions from outside the rules: planned outages (server/outages) */
  private externalSuppressions: ((now: number) => Suppression[]) | null = null;
  /** alarm ids of the outage alarms that should be active */
  private wantedOutages = new Set<string>();
  private readonly acks = new Map<string, { by: string; at: number; comment?: string }>();
  private readonly transformers = new Map<string, { site: string; room: string; transformer: string }>();
  /** `site/transformer` → its meters (transformer meter and line meters) */
  private readonly transformerMeters = new Map<string, string[]>();

  /** the largest seq this server has seen (cluster mode: the other servers' included) */
  private seq = 0;
  /** the last seq this server gave out: the journal writer stores its entries in this order */
  private ownSeq = 0;
  /** cluster mode (server/cluster/): seqs of the cluster's sequence, transitions and escalations fanned out to the other servers */
  private cluster: { next(last: number): number; out(entry: TransitionEntry | EscalationEntry): void } | null = null;
  /** alarmId → seq of its last transition known here */
  private readonly alarmSeqs = new Map<string, number>();
  private readonly recent: JournalEntry[] = [];
  private readonly writer: JournalWriter;
  /** the input of a late reading to the stale rules, reused (the step keeps nothing of it): no object per reading */
  private readonly lateInput: RuleInput = { ts: 0, values: {}, q: 'good', late: true };
  /** the server's broker connection; comm-loss counts silence only while connected */
  private readonly broker: BrokerPresence;

  private tickTimer: NodeJS.Timeout | null = null;
  private persistTimer: NodeJS.Timeout | null = null;
  private statesDirty = false;
  private persisting: Promise<void> | null = null;
  private readonly queries: AlarmQueries;
  private readonly escalator: Escalator;
  /** the rules document through the API (cluster mode: shared by server/cluster/rules-sync.ts) */
  readonly rulesAdmin: RulesAdmin;
  private hooked = false;
  /** cluster mode: the sources (devices, agents, sites) this server evaluates; the other servers' partitions are theirs */
  private owns: ((source: string) => boolean) | null = null;
  /** cluster mode: whether a source belongs to a partition at all (one of none is escalated by every server, as before) */
  private partitioned: ((source: string) => boolean) | null = null;

  constructor(private readonly deps: AlarmServiceDeps) {
    this.log = deps.log;
    this.clock = deps.clock ?? Date.now;
    this.agents = agentPlaces(deps.topology);
    this.writer = new JournalWriter(deps.journal, this.log);
    this.broker = new BrokerPresence(this.clock());
    if (!deps.ingest.onConnection) this.broker.set(true, this.clock());
    this.indexTransformers();
    this.escalator = new Escalator({
      options: deps.options.escalation,
      alarms: this.alarms,
      log: this.log,
      running: () => this.running,
      clock: this.clock,
      view: (a) => this.view(a),
      nextSeq: () => this.nextSeq(),
      enqueue: (e) => {
        this.enqueue(e);
        this.cluster?.out(e);
      },
      push: (f) => this.push(f),
      // cluster mode: an alarm of a partition is escalated by its owner only
      escalates: (a) => this.decidesAbout(a.source),
    });
    this.queries = new AlarmQueries({
      alarms: this.alarms,
      acks: this.acks,
      escalated: this.escalator.escalated,
      recent: this.recent,
      journal: deps.journal,
      devices: deps.devices,
      agents: this.agents,
      transformers: this.transformers,
      seq: () => this.seq,
      pending: () => this.writer.pending,
      rule: (id) => this.ruleById.get(id),
      deviceSite: (d) => this.deviceEntries.get(d)?.site,
    });
    this.rulesAdmin = new RulesAdmin(deps.options, {
      rules: () => this.rules,
      rule: (id) => this.ruleById.get(id),
      install: (rules, document, by, ruleId, comment) => this.installChange(rules, document, by, ruleId, comment),
      installShared: (rules, document, by, ruleId) => void this.installChange(rules, document, by, ruleId, undefined, false),
    });
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads rules, rebuilds alarms from the journal, resumes rule state, hooks into ingest and push, starts the timers. */
  async start(): Promise<void> {
    const loaded = await this.rulesAdmin.load();
    this.installRules(loaded.rules);
    this.log.info({ origin: loaded.origin, rules: loaded.rules.length }, 'alarm rules loaded');

    await this.deps.journal.start();
    // not the whole journal: per alarm what its current state needs (journal.ts readCurrent), and the recent
    // entries a resuming WebSocket client may ask for
    const entries = await this.deps.journal.readCurrent();
    const lastSeq = await this.deps.journal.lastSeq();
    this.seq = this.ownSeq = Math.max(lastSeq, entries.at(-1)?.seq ?? 0);
    const transitions = entries.filter((e): e is TransitionEntry => e.kind === 'transition');
    for (const [id, a] of rebuild(transitions)) this.alarms.set(id, a);
    for (const e of entries) this.track(e);
    const buffer = this.deps.options.resumeBuffer;
    if (buffer > 0) this.recent.push(...(await this.deps.journal.read({ afterSeq: Math.max(0, this.seq - buffer) })));
    this.writer.startAt(this.seq);
    await this.loadStates();
    this.reconcile(this.clock());
    this.log.info({ alarms: this.alarms.size, current: this.current().length, seq: this.seq }, 'alarm set rebuilt from the journal');

    if (!this.hooked) {
      this.hooked = true;
      // the transitions of one input leave together (one write per WebSocket client)
      this.deps.ingest.onReadings((readings) => this.batched(() => this.onReadings(readings)));
      this.deps.ingest.onCall((site, payload) => this.batched(() => this.onCall(site, payload)));
      this.deps.ingest.onAgentState((agent, state) => this.batched(() => this.onAgentState(agent, state)));
      this.deps.ingest.onConnection?.((connected) => this.batched(() => this.onConnection(connected)));
      this.deps.live.onClientMessage((msg, reply, scope) => this.onClientMessage(msg, reply, scope));
    }
    this.running = true;
    this.tickTimer = setInterval(() => this.batched(() => this.tickNow()), this.deps.options.tickMs);
    this.persistTimer = setInterval(() => void this.persistStates(), this.deps.options.persistIntervalMs);
  }

  /** Stops the timers, lets running escalations end, saves rule state and drains the journal queue. */
  async stop(): Promise<void> {
    if (!this.running) {
      // start() failed half way: close what it opened
      await this.deps.journal.stop().catch(() => undefined);
      return;
    }
    this.running = false;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.persistTimer) clearInterval(this.persistTimer);
    this.tickTimer = this.persistTimer = null;
    await this.escalator.settle();
    // the journal first: the rule state is saved only up to what it holds
    const drained = await this.drainJournal(10_000);
    // a periodic snapshot may wait for the journal: once drained it is written, else it is given up
    if (!drained) this.writer.giveUp();
    if (this.persisting) await this.persisting;
    if (drained) {
      this.statesDirty = true;
      await this.persistStates().catch((err) => this.log.error({ err }, 'saving rule state failed'));
    } else {
      // the file keeps the last snapshot the journal covers; the next start reconciles the rest
      this.log.error({ pending: this.writer.pending.length, journaledSeq: this.writer.storedSeq, seq: this.seq }, 'stopping with alarm events not journaled; rule state not saved past them');
    }
    await this.deps.journal.stop();
  }

  private indexTransformers(): void {
    this.transformers.clear();
    this.transformerMeters.clear();
    for (const site of this.deps.topology.sites)
      for (const room of site.rooms)
        for (const t of room.transformers) {
          this.transformers.set(`${site.id}/${t.id}`, { site: site.id, room: room.id, transformer: t.id });
          this.transformerMeters.set(`${site.id}/${t.id}`, [t.meter, ...t.lines.map((l) => l.meter)].filter((m): m is string => m !== undefined));
        }
  }

  /**
   * The topology object and device map were updated in place by a reload
   * (server/topology-file.ts applyLayout): agents and transformers indexed
   * again, every device's rules looked up again (a moved meter falls under
   * its new place's rules), the outage correlation run on the new layout.
   * A device no longer in the topology has nothing left to judge it: its
   * rule states go and its active alarms are cleared.
   */
  topologyChanged(removedDevices: readonly string[] = []): void {
    const now = this.clock();
    const next = agentPlaces(this.deps.topology);
    this.agents.clear();
    for (const [k, v] of next) this.agents.set(k, v);
    this.indexTransformers();
    // a generation of its own: every device entry and the agents' stale rules are derived again
    this.generation++;
    const gone = new Set(removedDevices);
    if (gone.size) {
      for (const m of this.states.values()) for (const d of gone) m.delete(d);
      for (const a of [...this.alarms.values()]) if (a.active && gone.has(a.source)) this.apply({ op: 'clear', alarmId: a.alarmId }, now);
      for (const d of gone) this.deviceEntries.delete(d);
    }
    this.log.info({ agents: this.agents.size, transformers: this.transformers.size, removedDevices: gone.size }, 'alarm service follows the reloaded topology');
    this.correlate(now);
    this.statesDirty = true;
  }

  // ---------------------------------------------------------------- rules

  private installRules(rules: RuleSet): void {
    this.rules = rules;
    this.ruleById = new Map(rules.map((r) => [r.id, r]));
    this.generation++;
  }

  private entryOf(device: string): DeviceEntry {
    let e = this.deviceEntries.get(device);
    if (!e) this.deviceEntries.set(device, (e = { generation: -1, outage: [], other: [], lag: 0, site: '' }));
    if (e.generation !== this.generation) {
      const all = rulesForDevice(this.rules, device, this.deps.devices.get(device));
      e.outage = all.filter((r): r is OutageRule => r.kind === 'outage').map((rule) => ({ rule, states: this.statesOf(rule.id), qs: null }));
      e.other = all.filter((r) => r.kind !== 'outage').map((rule) => ({ rule, states: this.statesOf(rule.id), qs: judgedQuantities(rule) }));
      e.generation = this.generation;
    }
    return e;
  }

  private batched(fn: () => void): void {
    if (this.deps.live.batched) this.deps.live.batched(fn);
    else fn();
  }

  private statesOf(ruleId: string): Map<string, RuleState> {
    let m = this.states.get(ruleId);
    if (!m) this.states.set(ruleId, (m = new Map()));
    return m;
  }

  // ---------------------------------------------------------------- inputs

  /**
   * One message: one poll cycle of one agent. The outage rule runs over the
   * whole batch first and the correlation once after it, so the meters of a
   * transformer that go dark in the same poll cycle make one transformer
   * outage, and every other alarm of a dark meter is born suppressed.
   */
  private onReadings(readings: readonly StoredReading[]): void {
    if (!this.running) return;
    const now = this.clock();
    let supplyChanged = false;
    const entries: (DeviceEntry | null)[] = new Array(readings.length).fill(null);
    // one input per reading, for the outage rules here and the others below
    const inputs: RuleInput[] = new Array(readings.length);
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      if (r.late) {
        this.heardLate(r, now);
        continue;
      }
      const e = this.entryOf(r.device);
      entries[i] = e;
      // negative for a clock ahead of ours (within what step() believes): its ticks follow its clock too
      e.lag = now - readingTime(r.ts, now);
      e.site = r.site;
      const input: RuleInput = { ts: r.ts, values: r.v, q: r.q };
      inputs[i] = input;
      if (e.outage.length === 0) continue;
      for (const { rule, states } of e.outage) {
        const prev = states.get(r.device);
        // taken before the step: stepOwned may update prev itself
        const supplyBefore = supplyStatus(prev, rule, now);
        const res = stepOwned(prev, input, rule, now);
        if (res.state !== prev) states.set(r.device, res.state);
        if (res.transition || supplyBefore !== supplyStatus(res.state, rule, now)) supplyChanged = true;
      }
    }
    if (supplyChanged) this.correlate(now);
    for (let i = 0; i < readings.length; i++) {
      const e = entries[i];
      if (!e) continue;
      const r = readings[i]!;
      const input = inputs[i]!;
      for (const { rule, states, qs } of e.other) {
        // dispatch by quantity: a reading without what the rule judges would leave its state as it is
        if (!carriesAny(input.values, qs)) continue;
        const prev = states.get(r.device);
        // the map holds the only reference to a state: it is given up to the step and replaced by the result
        const res = stepOwned(prev, input, rule, now);
        if (res.state !== prev) states.set(r.device, res.state);
        if (res.transition) this.apply(toAlarmOp(rule.id, r.device, res.transition, this.suppressionOf(rule, r.device)), res.transition.at);
      }
    }
    this.statesDirty = true;
  }

  /**
   * A backfilled reading proves its meter answers its agent: the stale rules
   * count the meter as heard from (silence counted anew) without clearing
   * anything (engine.ts). No other rule sees it.
   */
  private heardLate(r: StoredReading, now: number): void {
    if (r.q !== 'good') return;
    const e = this.entryOf(r.device);
    const input = this.lateInput;
    input.ts = r.ts;
    input.values = r.v;
    for (let j = 0; j < e.other.length; j++) {
      const { rule, states } = e.other[j]!;
      if (rule.kind !== 'stale') continue;
      const prev = states.get(r.device);
      const res = stepOwned(prev, input, rule, now);
      if (res.state !== prev) states.set(r.device, res.state);
    }
  }

  /** The server's broker connection changed: one broker alarm instead of a comm-loss per meter (presence.ts). */
  private onConnection(connected: boolean): void {
    const now = this.clock();
    if (!this.broker.set(connected, now)) return;
    this.log[connected ? 'info' : 'warn']({ connected }, connected ? 'broker connected: comm-loss counts silence from now' : 'broker connection lost: comm-loss suspended');
    if (!this.running) return;
    if (connected) restartSilence(this.rules.filter((r) => r.kind === 'stale').map((r) => this.statesOf(r.id)), now);
    for (const op of planBrokerOps(connected, brokerRule(this.rules), this.alarms.values())) this.apply(op, now);
    this.statesDirty = true;
  }

  private onCall(site: string, payload: Buffer): void {
    if (!this.running) return;
    const now = this.clock();
    // any payload is a press (contract/call.ts): what does not validate is left out of the call, not the call itself
    const { call, errors } = parseCallPayload(payload);
    // the site may stamp the press; a redelivery with the same stamp does not count twice
    const ts = call.ts !== undefined ? Math.min(call.ts, now) : now;
    const rooms = this.deps.topology.sites.find((s) => s.id === site)?.rooms;
    let room = call.room;
    if (room !== undefined && rooms && !rooms.some((r) => r.id === room)) {
      errors.push(`room: ${room} is not a room of site ${site}`);
      room = undefined;
    }
    // a site of one room: the call comes from it
    if (room === undefined && rooms?.length === 1) room = rooms[0]!.id;
    if (errors.length) this.log.warn({ site, reasons: errors.slice(0, 10) }, 'call message fields rejected');
    const detail: JsonObject = { site };
    if (room !== undefined) detail.room = room;
    if (call.caller) detail.caller = { ...call.caller };
    if (call.message !== undefined) detail.message = call.message;
    const who = call.caller ? [call.caller.name, call.caller.phone && `(${call.caller.phone})`].filter(Boolean).join(' ') : '';
    const summary = `one-key call from site ${site}${room !== undefined ? `, room ${room}` : ''}${who ? `, ${who}` : ''}${call.message !== undefined ? `: ${call.message}` : ''}`;
    for (const c of this.rules) {
      if (c.kind !== 'call' || !c.enabled || !scopeMatchesSite(c.scope, site)) continue;
      const m = this.statesOf(c.id);
      const res = step(m.get(site), callInput(ts), c, now);
      m.set(site, res.state);
      if (!res.transition) continue;
      const op = toAlarmOp(c.id, site, res.transition);
      if (op.op === 'raise') {
        op.message = summary;
        op.detail = detail;
      }
      this.apply(op, res.transition.at);
    }
    this.log.info({ site, room, caller: call.caller?.name }, 'one-key call');
    this.statesDirty = true;
  }

  /**
   * Line-loss figures of closed intervals (server/energy): each line_loss
   * rule judges each area in its scope, the alarm's source `site/transformer`.
   */
  onLineLoss(figures: readonly { site: string; transformer: string; interval: string; start: number; end: number; complete: boolean; lossPct: number | null; missing: readonly string[]; meters: number }[]): void {
    this.batched(() => {
      if (!this.running) return;
      const now = this.clock();
      for (const c of this.rules) {
        if (c.kind !== 'line_loss' || !c.enabled) continue;
        const m = this.statesOf(c.id);
        for (const f of figures) {
          if (!scopeMatchesSite(c.scope, f.site) || (c.scope !== 'all' && c.scope.transformer && !c.scope.transformer.includes(f.transformer))) continue;
          const source = `${f.site}/${f.transformer}`;
          const input: RuleInput = { ts: f.end, values: {}, q: 'good', lineLoss: { interval: f.interval, start: f.start, complete: f.complete, lossPct: f.lossPct, missing: f.missing, meters: f.meters } };
          const res = step(m.get(source), input, c, now);
          m.set(source, res.state);
          if (res.transition) this.apply(toAlarmOp(c.id, source, res.transition), res.transition.at);
        }
      }
      this.statesDirty = true;
    });
  }

  private onAgentState(agent: string, state: string): void {
    const was = this.offlineAgents.has(agent);
    if (state === 'offline') {
      this.offlineAgents.add(agent);
      this.onlineAgents.delete(agent);
    } else {
      this.offlineAgents.delete(agent);
      // settling only after a loss of contact: an agent first seen online (e.g. its retained state at our start) has nothing to settle
      if (state === 'online' && !this.onlineAgents.has(agent)) this.onlineAgents.set(agent, was ? this.clock() : Number.NEGATIVE_INFINITY);
    }
    if (was === this.offlineAgents.has(agent) || !this.running) return;
    this.log.info({ agent, from: was ? 'offline' : 'online', to: state }, 'agent presence changed');
    this.correlate(this.clock());
  }

  /**
   * Cluster mode (server/cluster/): the timer evaluates only the sources
   * `owns` accepts (a device, an agent, a site, `<rule>:<agent>`), and the
   * presence of agents no longer owned is forgotten: their server tells it.
   */
  setOwnership(owns: (source: string) => boolean, partitioned?: (source: string) => boolean): void {
    this.owns = owns;
    if (partitioned) this.partitioned = partitioned;
    for (const a of [...this.offlineAgents]) if (!owns(a)) this.offlineAgents.delete(a);
    for (const a of [...this.onlineAgents.keys()]) if (!owns(a)) this.onlineAgents.delete(a);
  }

  /** One round of time-driven evaluation at the clock's now; also what the timer calls. */
  tickNow(): void {
    if (!this.running) return;
    try {
      this.tickAt(this.clock());
    } catch (err) {
      this.log.error({ err }, 'alarm tick failed');
    }
  }

  private tickAt(now: number): void {
    for (const rule of this.rules) {
      // no broker connection: nobody can be heard, so nobody is silent (one broker alarm says it)
      if (rule.kind === 'stale' && rule.enabled && !this.broker.counting) continue;
      const m = this.statesOf(rule.id);
      const sampled = isSampled(rule.kind);
      for (const [src, st] of m) {
        if (this.owns && !this.owns(src)) continue;
        const res = tick(st, rule, sampled ? now - (this.deviceEntries.get(src)?.lag ?? 0) : now);
        if (res.state !== st) m.set(src, res.state);
        if (res.transition && rule.kind !== 'outage') this.apply(toAlarmOp(rule.id, src, res.transition, this.suppressionOf(rule, src)), res.transition.at);
      }
      if (!rule.enabled) {
        // tick above cleared whatever was active; nothing runs for a disabled rule
        this.states.delete(rule.id);
        continue;
      }
      // a meter that never reports becomes stale too
      if (rule.kind === 'stale')
        for (const [d, place] of this.deps.devices) if (!m.has(d) && ruleCovers(rule, d, place) && (!this.owns || this.owns(d))) m.set(d, initialState(rule, now));
    }
    this.correlate(now);
    for (const id of dueShelfExpiries(this.alarms.values(), now)) this.apply({ op: 'expire_shelf', alarmId: id }, now);
    this.escalator.escalate(now);
    this.statesDirty = true;
  }

  // ---------------------------------------------------------------- outage correlation and suppression by design

  private exemptFrom(ruleId: string, alarmId: string, s: Suppression): boolean {
    const kind = this.ruleById.get(ruleId)?.kind;
    if (kind === 'call') return true;
    // the outage alarm that covers a source is never hidden by that outage
    return s.cause === 'outage' && this.wantedOutages.has(alarmId);
  }

  /** The suppression reason for a new alarm of `rule` on `source`, if its source is suppressed by design. */
  private suppressionOf(rule: Readonly<Rule>, source: string): string | undefined {
    const list = this.suppressions.get(source);
    if (!list) return undefined;
    const id = `${rule.id}:${source}`;
    return list.find((s) => !this.exemptFrom(rule.id, id, s))?.reason;
  }

  /** Brings outage alarms and design suppressions in line with the outage states, topology and agent presence. */
  private correlate(now: number): void {
    const agentSupp = [...agentSuppressions(this.deps.topology, this.offlineAgents, this.settlingDevices(now)), ...(this.externalSuppressions?.(now) ?? [])];
    const outageRules = this.rules.filter((r): r is OutageRule => r.kind === 'outage');
    const corrs = outageRules.map(
      (o) => [o, o.enabled ? this.deferPending(correlateOutages(this.statesOf(o.id), this.deps.topology, o, now), o, now) : EMPTY_CORRELATION] as const,
    );
    this.wantedOutages = new Set(corrs.flatMap(([, c]) => c.conditions.map((x) => x.alarmId)));
    const all = [...agentSupp, ...corrs.flatMap(([, c]) => c.suppress)];
    const bySource = new Map<string, Suppression[]>();
    for (const s of all) bySource.set(s.source, [...(bySource.get(s.source) ?? []), s]);
    this.suppressions = bySource;
    const exempt = (a: Alarm, s: Suppression) => this.exemptFrom(a.ruleId, a.alarmId, s);
    if (corrs.length === 0) {
      const plan = planSuppressionOps(this.alarms.values(), all, exempt);
      for (const op of [...plan.suppress, ...plan.unsuppress]) if (this.decidesOn(op.alarmId)) this.apply(op, now);
    }
    for (const [o, corr] of corrs) {
      const more = [...agentSupp, ...corrs.filter(([x]) => x !== o).flatMap(([, c]) => c.suppress)];
      for (const op of planOutageOps(this.alarms, o.id, corr, { moreSuppressions: more, exempt })) if (this.decidesOn(op.alarmId)) this.apply(op, now);
    }
    // after the suppressions: the agent alarm is the one that annunciates
    for (const op of planAgentOps(this.alarms, this.agents, this.offlineAgents, this.onlineAgents, (p) => this.rulesOfAgent(p))) if (this.decidesOn(op.alarmId)) this.apply(op, now);
    if (this.agentAlarmsChecked !== this.generation) {
      // after a rules change: an agent alarm whose stale rule no longer covers the agent (disabled, rescoped) has nothing left to clear it
      this.agentAlarmsChecked = this.generation;
      for (const a of [...this.alarms.values()]) {
        const p = this.agents.get(a.source);
        if (p && a.active && this.ruleById.get(a.ruleId)?.kind === 'stale' && !this.rulesOfAgent(p).some((r) => r.id === a.ruleId)) this.apply({ op: 'clear', alarmId: a.alarmId }, now);
      }
    }
  }

  /**
   * Whether this server decides about (correlates, escalates) an alarm
   * source: always on a single server; in cluster mode only sources of the
   * partitions it owns, and sources of no partition. Another server holds no
   * rule state for the meters of a partition it does not own, so its
   * correlation would clear the owner's outage alarms, and the owner raise
   * them again, at every tick.
   */
  private decidesAbout(source: string): boolean {
    return !this.owns || this.owns(source) || !(this.partitioned?.(source) ?? false);
  }

  /** decidesAbout for an alarm by its id (an id that does not parse: decided here, as before cluster mode) */
  private decidesOn(id: string): boolean {
    const source = parseAlarmId(id)?.source;
    return source === undefined || this.decidesAbout(source);
  }

  /** The enabled stale rules covering one of the agent's devices (the first raises its alarm). */
  private rulesOfAgent(p: AgentPlace): StaleRule[] {
    if (this.agentRulesGeneration !== this.generation) {
      this.agentRules = new Map();
      this.agentRulesGeneration = this.generation;
    }
    let list = this.agentRules.get(p.agent);
    if (!list) {
      list = this.rules.filter((r): r is StaleRule => r.kind === 'stale' && r.enabled && p.devices.some((d) => ruleCovers(r, d, this.deps.devices.get(d))));
      this.agentRules.set(p.agent, list);
    }
    return list;
  }

  /**
   * Devices of agents back online that have not reported since, while their
   * stale rule still gives them time to (a meter 10 s, a room sensor minutes):
   * each is released as soon as it reports, or when its own time is up.
   */
  private settlingDevices(now: number): string[] {
    const out: string[] = [];
    for (const [agent, since] of this.onlineAgents) {
      const p = this.agents.get(agent);
      if (!p) continue;
      const rules = this.rulesOfAgent(p);
      if (rules.length === 0 || now - since >= Math.max(...rules.map(staleAfterMs))) continue;
      for (const d of p.devices) {
        const place = this.deps.devices.get(d);
        const rule = rules.find((r) => ruleCovers(r, d, place));
        if (rule === undefined || now - since >= staleAfterMs(rule)) continue;
        const st = this.states.get(rule.id)?.get(d);
        const heard = st?.kind === 'stale' && st.lastGoodAt !== null && st.lastGoodAt >= since;
        if (!heard) out.push(d);
      }
    }
    return out;
  }

  /**
   * Holds back a new single-meter outage alarm while the picture under its
   * transformer is still settling: the meter itself already sees voltage
   * again (waiting for the off-delay), or another meter of the transformer is
   * going dark or coming back (inside its on- or off-delay). Meters of one
   * transformer polled a moment apart, or sent in different messages, then
   * make one transformer outage instead of a meter alarm that folds into it
   * a second later (and one restoration instead of a line outage flashing up
   * for each meter still waiting for its off-delay). Bounded by the delays.
   */
  private deferPending(corr: OutageCorrelation, o: OutageRule, now: number): OutageCorrelation {
    const states = this.statesOf(o.id);
    const settling = (device: string): boolean => {
      const s = states.get(device);
      if (s?.kind !== 'outage' || s.lastAt === null || now - s.lastAt > o.holdS * 1000) return false;
      return s.levels.confirmed === null ? s.levels.beyondSince['dark'] !== undefined : s.levels.leftSince !== null;
    };
    const conditions = corr.conditions.filter((c) => {
      if (c.scope !== 'meter' || this.alarms.get(c.alarmId)?.active) return true;
      if (settling(c.source)) return false;
      return !(this.transformerMeters.get(`${c.site}/${c.transformer}`) ?? []).some((d) => d !== c.source && settling(d));
    });
    return conditions.length === corr.conditions.length ? corr : { ...corr, conditions };
  }

  // ---------------------------------------------------------------- applying operations

  /** Applies one operation; records and pushes its transitions. A refused system operation is logged. */
  private apply(op: AlarmOp, at: number): AlarmResult {
    const prev = this.alarms.get(op.alarmId);
    const r = applyOp(prev, op, at);
    if (!r.ok) {
      this.log.warn({ alarmId: op.alarmId, op: op.op, code: r.error.code, reason: r.error.message }, 'alarm operation refused');
      return r;
    }
    if (r.alarm) this.alarms.set(op.alarmId, r.alarm);
    let cur = prev;
    for (const t of r.transitions) {
      cur = applyTransition(cur, t);
      this.record(t, cur);
    }
    return r;
  }

  private record(t: AlarmTransition, alarm: Alarm): void {
    t.seq = this.nextSeq();
    const entry: TransitionEntry = { ...t, kind: 'transition', seq: t.seq };
    this.track(entry);
    this.enqueue(entry);
    const level = annunciates(t) || t.by !== undefined ? 'info' : 'debug';
    this.log[level]({ alarmId: t.alarmId, from: t.from, to: t.to, reason: t.reason, by: t.by, severity: t.severity, seq: t.seq }, 'alarm transition');
    this.push({ type: 'alarm', seq: t.seq, transition: t, alarm: this.view(alarm) });
    this.cluster?.out(entry);
  }

  private nextSeq(): number {
    this.seq = this.cluster ? this.cluster.next(this.seq) : this.seq + 1;
    return (this.ownSeq = this.seq);
  }

  /** Bookkeeping derived from journal entries, live and at rebuild. */
  private track(e: JournalEntry): void {
    if (e.kind === 'transition') {
      if (e.seq > (this.alarmSeqs.get(e.alarmId) ?? 0)) this.alarmSeqs.set(e.alarmId, e.seq);
      if (e.reason === 'acknowledge') this.acks.set(e.alarmId, e.comment === undefined ? { by: e.by ?? '', at: e.at } : { by: e.by ?? '', at: e.at, comment: e.comment });
      else if (annunciates(e)) this.acks.delete(e.alarmId);
    } else if (e.kind === 'escalation') {
      this.escalator.track(e);
    }
  }

  private push(frame: AlarmFrame): void {
    try {
      const place = frame.type === 'alarm' ? frame.alarm : frame.type === 'alarm_escalation' ? this.queries.placeOf(frame.escalation) : null;
      this.deps.live.pushAlarm(frame, place && { site: place.site, room: place.room });
    } catch (err) {
      this.log.error({ err }, 'alarm push failed');
    }
  }

  private enqueue(e: JournalEntry): void {
    this.writer.append(e);
    this.recent.push(e);
    const max = this.deps.options.resumeBuffer;
    if (this.recent.length > max * 2 || (max === 0 && this.recent.length > 0)) this.recent.splice(0, this.recent.length - max);
  }

  /** Resolves true once every event so far is journaled, false after the timeout. */
  drainJournal(timeoutMs = 10_000): Promise<boolean> {
    return this.writer.drain(timeoutMs);
  }

  // ---------------------------------------------------------------- alarms of other parts (the outage pool)

  /** Design suppressions another part asks for (planned outages), taken at every correlation. */
  setExternalSuppressions(fn: (now: number) => Suppression[]): void {
    this.externalSuppressions = fn;
  }

  /** Applies a system operation on an alarm another part owns (raise, clear, comment), journaled and pushed like any. */
  applyExternal(op: AlarmOp): AlarmResult {
    let r: AlarmResult | undefined;
    this.batched(() => (r = this.apply(op, this.clock())));
    return r!;
  }

  /** The alarm with this id as the state machine holds it (undefined: never raised). */
  alarm(alarmId: string): Readonly<Alarm> | undefined {
    return this.alarms.get(alarmId);
  }

  // ---------------------------------------------------------------- views and queries (queries.ts)

  view(a: Alarm): AlarmView {
    return this.queries.view(a);
  }

  /** The current set: every alarm not in state normal. */
  current(): AlarmView[] {
    return this.queries.current();
  }

  /** The service's clock (epoch ms). */
  now(): number {
    return this.clock();
  }

  get lastSeq(): number {
    return this.seq;
  }

  list(f: AlarmFilter = {}): { seq: number; total: number; alarms: AlarmView[] } {
    return this.queries.list(f);
  }

  get(alarmId: string): AlarmView {
    return this.queries.get(alarmId);
  }

  /** Journal entries, including those not yet written, in seq order. */
  journalEntries(q: JournalQuery = {}): Promise<JournalEntry[]> {
    return this.queries.journalEntries(q);
  }

  history(alarmId: string, q: Omit<JournalQuery, 'alarmId'> = {}): Promise<JournalEntry[]> {
    return this.queries.history(alarmId, q);
  }

  health(from: number, to: number, byPosition: 'all' | 'site' = 'all'): Promise<AlarmHealth> {
    return this.queries.health(from, to, byPosition);
  }

  /** The current set and what the client missed after `since`, narrowed to `scope` (queries.ts). */
  snapshot(since?: number, scope: AlarmScope = null): AlarmsSnapshotFrame {
    return this.queries.snapshot(since, scope);
  }

  // ---------------------------------------------------------------- operator actions

  /** An operator's action on an alarm, at the clock's now. Throws GridwatchError with the FSM's code when refused. */
  act(alarmId: string, by: string, action: OperatorAction): AlarmView {
    const op: AlarmOp = { ...action, alarmId, by } as AlarmOp;
    if (op.op === 'remove_from_service' && !this.alarms.has(alarmId)) {
      // an alarm that has not occurred yet may be taken out of service (meter maintenance), but only of a rule that exists
      const rule = this.ruleById.get(alarmId.slice(0, Math.max(0, alarmId.indexOf(':'))));
      if (!rule) throw new GridwatchError('GW_ERR_ALARM_UNKNOWN', `no alarm ${alarmId}, and no rule of that id`);
      op.severity = mostUrgentSeverity(rule);
    }
    const r = this.apply(op, this.clock());
    if (!r.ok) {
      let message = r.error.message;
      const ack = this.acks.get(alarmId);
      if (action.op === 'acknowledge' && ack && this.alarms.get(alarmId)?.state === 'ack_active')
        message += `; acknowledged by ${ack.by} at ${new Date(ack.at).toISOString()}`;
      throw new GridwatchError(r.error.code, message);
    }
    this.statesDirty = true;
    return this.get(alarmId);
  }

  // ---------------------------------------------------------------- rules through the API (rules-admin.ts)

  rulesInfo(): { origin: string; file: string; document: JsonObject; rules: RuleSet; revision: number | null } {
    return this.rulesAdmin.info();
  }

  rule(ruleId: string): Readonly<Rule> {
    return this.rulesAdmin.rule(ruleId);
  }

  /** Replaces the whole rules document. Validated first (every issue by rule id), saved, applied at once, journaled. */
  putRules(doc: unknown, by: string, comment?: string, revision?: number): Promise<{ seq: number; rules: RuleSet; revision: number | null }> {
    return this.rulesAdmin.putRules(doc, by, comment, revision);
  }

  /** Adds or replaces one rule of the document (for a built-in rule's id: the keys that override it). */
  putRule(ruleId: string, body: unknown, by: string, comment?: string, revision?: number): Promise<{ seq: number; rules: RuleSet; revision: number | null }> {
    return this.rulesAdmin.putRule(ruleId, body, by, comment, revision);
  }

  /**
   * A validated, saved rules change taking effect: installed, journaled, pushed; alarms of rules gone cleared.
   * Cluster mode, a change another server made (`here` false): installed only; that server journals it and clears the alarms.
   */
  private installChange(rules: RuleSet, document: JsonObject, by: string, ruleId: string, comment?: string, here = true): number {
    const now = this.clock();
    // a rule gone, or now of another kind: its alarms have nothing left that would clear them, its states mean nothing
    const removed = this.rules.filter((x) => !rules.some((y) => y.id === x.id && y.kind === x.kind)).map((x) => x.id);
    this.installRules(rules);
    if (!here) {
      for (const id of removed) this.states.delete(id);
      this.log.info({ by, ruleId: ruleId || undefined, rules: rules.length, removed }, 'alarm rules changed on another server: in force here');
      this.correlate(now);
      this.statesDirty = true;
      return 0;
    }
    const entry: RulesEntry = { kind: 'rules', seq: this.nextSeq(), at: now, by, ruleId, document };
    if (comment) entry.comment = comment;
    this.enqueue(entry);
    const { document: _omit, ...change } = entry;
    this.push({ type: 'alarm_rules', seq: entry.seq, change });
    for (const id of removed) {
      this.states.delete(id);
      for (const a of [...this.alarms.values()]) if (a.ruleId === id && a.active) this.apply({ op: 'clear', alarmId: a.alarmId }, now);
    }
    this.log.info({ by, ruleId: ruleId || undefined, rules: rules.length, removed, seq: entry.seq }, 'alarm rules changed');
    this.correlate(now);
    this.statesDirty = true;
    return entry.seq;
  }

  /** Cluster mode: the `alarm_rules` frame of a change another server made (and journaled), to this server's clients. */
  pushRemoteRules(change: Omit<RulesEntry, 'document'>): void {
    this.batched(() => {
      this.seq = Math.max(this.seq, change.seq);
      try {
        const frame: AlarmFrame = { type: 'alarm_rules', seq: change.seq, change };
        this.deps.live.pushAlarm(frame, null, (scope) => this.queries.snapshot(undefined, scope));
      } catch (err) {
        this.log.error({ err }, 'alarm push failed');
      }
    });
  }

  private onClientMessage(msg: Record<string, unknown>, reply: (frame: object) => void, scope: AlarmScope): boolean {
    return this.queries.clientMessage(msg, reply, scope);
  }

  // ---------------------------------------------------------------- cluster mode (server/cluster/, docs/cluster.md)

  /** Cluster mode: seqs from the cluster's sequence (`next` of the largest seen), each transition made here handed to `out`. */
  joinCluster(c: { next(last: number): number; out(entry: TransitionEntry | EscalationEntry): void }): void {
    this.cluster = c;
  }

  /** Cluster mode: entries another server made, journaled here too (the owner of their partition): a seq stored twice is one entry. */
  journalCopies(entries: readonly (TransitionEntry | EscalationEntry)[]): Promise<void> {
    return this.deps.journal.append(entries);
  }

  /**
   * A transition another server made (and journals): applied to the set and
   * pushed to this server's clients, unless this server knows the alarm at
   * that seq or later. A client already sent a larger seq gets the whole set
   * again instead (its store would take the frame for one it holds).
   */
  applyRemote(t: TransitionEntry | EscalationEntry): void {
    if (t.kind === 'escalation') return this.applyRemoteEscalation(t);
    if ((this.alarmSeqs.get(t.alarmId) ?? 0) >= t.seq) return;
    const cur = this.alarms.get(t.alarmId);
    // an operator's action made on another server on an alarm this server owns, from a state the alarm is no longer in
    // here (this server changed it meanwhile, e.g. cleared it): decided again on the alarm as it is, so every server
    // ends with the owner's decision (its transition's seq is larger than both) and no alarm is left in a state its
    // transitions do not lead to
    if (t.by !== undefined && cur && cur.state !== t.from && this.owns?.(t.source) && REDECIDED.has(t.reason)) return this.redecide(t, cur);
    this.batched(() => {
      const alarm = applyTransition(this.alarms.get(t.alarmId), t);
      this.alarms.set(t.alarmId, alarm);
      this.track(t);
      this.recent.push(t);
      if (this.recent.length > this.deps.options.resumeBuffer * 2) this.recent.splice(0, this.recent.length - this.deps.options.resumeBuffer);
      this.seq = Math.max(this.seq, t.seq);
      const { kind: _k, ...transition } = t;
      const frame: AlarmFrame = { type: 'alarm', seq: t.seq, transition, alarm: this.view(alarm) };
      try {
        this.deps.live.pushAlarm(frame, { site: frame.alarm.site, room: frame.alarm.room }, (scope) => this.queries.snapshot(undefined, scope));
      } catch (err) {
        this.log.error({ err }, 'alarm push failed');
      }
    });
  }

  /** An operator's action of another server decided again here (applyRemote); refused here, a comment says so and carries the owner's state to all. */
  private redecide(t: TransitionEntry, cur: Alarm): void {
    this.seq = Math.max(this.seq, t.seq);
    const by = t.by ?? '';
    const base = { alarmId: t.alarmId, by };
    const op: AlarmOp =
      t.reason === 'shelve'
        ? { ...base, op: 'shelve', reason: t.comment ?? '', until: t.until ?? 0 }
        : t.reason === 'remove_from_service'
          ? { ...base, op: 'remove_from_service', reason: t.comment ?? '' }
          : t.reason === 'comment'
            ? { ...base, op: 'comment', comment: t.comment ?? '' }
            : { ...base, op: t.reason as 'acknowledge' | 'unshelve' | 'return_to_service', ...(t.comment !== undefined ? { comment: t.comment } : {}) };
    this.log.info({ alarmId: t.alarmId, reason: t.reason, by, from: t.from, state: cur.state, seq: t.seq }, 'operator action of another server decided again on the alarm as it is here');
    this.batched(() => {
      const now = this.clock();
      const r = this.apply(op, now);
      if (!r.ok) this.apply({ op: 'comment', alarmId: t.alarmId, by, comment: `${t.reason} made on another server not applied: ${r.error.message}` }, now);
    });
  }

  /** An escalation another server made (the owner of the alarm's partition): known here, so not escalated again, and pushed. */
  private applyRemoteEscalation(e: EscalationEntry): void {
    const known = this.escalator.escalated.get(e.alarmId);
    if (known && known.since === e.since && known.at >= e.at) return;
    this.batched(() => {
      this.track(e);
      this.recent.push(e);
      if (this.recent.length > this.deps.options.resumeBuffer * 2) this.recent.splice(0, this.recent.length - this.deps.options.resumeBuffer);
      this.seq = Math.max(this.seq, e.seq);
      this.push({ type: 'alarm_escalation', seq: e.seq, escalation: e });
    });
  }

  /**
   * Cluster mode, a partition taken over (before its readings flow): each of
   * its alarms as the journal holds it where the journal knows a later
   * transition than this server, its rule states resumed from what the
   * previous owner saved (`saved`, state-store.ts's format), then both
   * reconciled as at start.
   */
  async takeOver(pick: (source: string) => boolean, saved: PersistedState | null): Promise<{ alarms: number; states: number }> {
    const byAlarm = new Map<string, TransitionEntry[]>();
    for (const e of await this.deps.journal.readCurrent()) {
      if (e.kind !== 'transition' || !pick(e.source)) continue;
      const list = byAlarm.get(e.alarmId);
      if (list) list.push(e);
      else byAlarm.set(e.alarmId, [e]);
    }
    let alarms = 0;
    let states = 0;
    this.batched(() => {
      for (const [id, list] of byAlarm) {
        const last = list.at(-1)!;
        if ((this.alarmSeqs.get(id) ?? 0) >= last.seq) continue;
        // the journal's entries of the alarm rebuild it; the last one goes to the clients as a transition
        for (const e of list.slice(0, -1)) this.alarmSeqs.set(id, Math.max(this.alarmSeqs.get(id) ?? 0, e.seq));
        this.alarms.delete(id);
        for (const [, a] of rebuild(list.slice(0, -1))) this.alarms.set(id, a);
        this.applyRemote(last);
        alarms++;
      }
      if (saved) {
        const now = this.clock();
        for (const m of this.states.values()) for (const src of [...m.keys()]) if (pick(src)) m.delete(src);
        for (const [ruleId, bySource] of Object.entries(saved.states)) {
          const rule = this.ruleById.get(ruleId);
          if (!rule) continue;
          const m = this.statesOf(ruleId);
          for (const [src, st] of Object.entries(bySource)) if (pick(src)) (m.set(src, resume(st, rule, now)), states++);
        }
        for (const [src, lag] of Object.entries(saved.lags ?? {})) if (pick(src)) this.entryOf(src).lag = lag;
      }
      this.reconcile(this.clock());
    });
    return { alarms, states };
  }

  /** Cluster mode: the rule states of the sources `pick` accepts, and the seq of this server they may reflect (saved once the journal holds it). */
  exportStates(pick: (source: string) => boolean): { json: string; seq: number } {
    const states: Record<string, Record<string, RuleState>> = {};
    const lags: Record<string, number> = {};
    for (const [ruleId, m] of this.states)
      for (const [src, st] of m)
        if (pick(src)) (states[ruleId] ??= {})[src] = st;
    for (const [d, e] of this.deviceEntries) if (pick(d)) lags[d] = e.lag;
    const doc: PersistedState = { version: 1, savedAt: this.clock(), seq: this.ownSeq, states, lags, sites: {} };
    return { json: JSON.stringify(doc), seq: this.ownSeq };
  }

  /** Resolves true once the journal holds every entry of this server up to `seq`. */
  whenJournaled(seq: number): Promise<boolean> {
    return this.writer.whenStored(seq);
  }

  // ---------------------------------------------------------------- rule state across restarts

  private async loadStates(): Promise<void> {
    const file = stateFile(this.deps.options.dataDir);
    let saved;
    try {
      saved = await readStateFile(file);
    } catch (err) {
      // rule state is a convenience (delays, baselines); the alarms themselves come from the journal
      this.log.error({ err, file }, 'saved rule state unreadable; starting rules afresh');
      return;
    }
    if (!saved) return;
    const now = this.clock();
    let n = 0;
    for (const [ruleId, bySource] of Object.entries(saved.states)) {
      const rule = this.ruleById.get(ruleId);
      if (!rule) continue;
      const m = this.statesOf(ruleId);
      for (const [src, st] of Object.entries(bySource)) {
        m.set(src, resume(st, rule, now));
        n++;
      }
    }
    for (const [src, lag] of Object.entries(saved.lags ?? {})) this.entryOf(src).lag = lag;
    for (const [src, site] of Object.entries(saved.sites ?? {})) this.entryOf(src).site = site;
    // ahead of the journal only if the journal lost entries (or a file of a server that saved regardless of it)
    if (saved.seq === undefined || saved.seq > this.seq) this.log.warn({ file, seq: saved.seq, journalSeq: this.seq }, 'saved rule state may be ahead of the journal; reconciled with it');
    this.log.info({ states: n, savedAt: saved.savedAt, seq: saved.seq, ageS: Math.round((now - saved.savedAt) / 1000) }, 'rule state resumed');
  }

  /**
   * Rule state in line with the alarms rebuilt from the journal (state-store.ts):
   * after a crash either may hold what the other lost.
   */
  private reconcile(now: number): void {
    const presence = (rule: Readonly<Rule>, source: string) => rule.kind === 'stale' && (this.agents.has(source) || source === BROKER_SOURCE);
    const fixes = reconcileStates(this.alarms, this.states, this.rules, presence, now);
    if (fixes.length === 0) return;
    this.statesDirty = true;
    const count = (f: 'assumed' | 'dropped') => fixes.filter((x) => x.fix === f).length;
    this.log.warn(
      { assumed: count('assumed'), dropped: count('dropped'), first: fixes.slice(0, 10).map((f) => `${f.fix} ${f.ruleId}:${f.source}`) },
      'rule state reconciled with the alarm journal: conditions of journaled alarms assumed, conditions without an alarm dropped',
    );
  }

  /**
   * Saves the running rule state (atomically) when it changed since the last
   * save — but never ahead of the journal: the snapshot is tagged with the
   * last seq it may reflect and written once the journal has stored that seq
   * (state-store.ts). Until then it waits, and later saves wait for it.
   */
  persistStates(): Promise<void> {
    if (this.persisting) return this.persisting;
    if (!this.statesDirty) return Promise.resolve();
    this.statesDirty = false;
    const savedAt = this.clock();
    // the states are taken now but serialised over the next turns of the loop, and readings update them in
    // place meanwhile (stepOwned): each state is written as it is when its turn comes (one synchronous
    // stringify, so consistent in itself), at most a few ms after savedAt. Resuming does not need one moment:
    // every state is resumed on its own.
    const states = [...this.states].map(([id, m]) => [id, [...m]] as const);
    const lags = [...this.deviceEntries].map(([d, e]) => [d, e.lag] as const);
    const sites = [...this.deviceEntries].filter(([d, e]) => e.site !== '' && !this.deps.devices.has(d)).map(([d, e]) => [d, e.site] as const);
    const file = stateFile(this.deps.options.dataDir);
    this.persisting = (async () => {
      try {
        const { json, seq } = await serialiseInSlices(savedAt, states, lags, sites, () => this.ownSeq);
        if (!(await this.writer.whenStored(seq))) {
          this.statesDirty = true;
          this.log.warn({ file, seq, journaledSeq: this.writer.storedSeq }, 'rule state not saved: the journal does not hold its transitions');
          return;
        }
        await writeStateFile(file, json);
      } catch (err) {
        this.statesDirty = true;
        this.log.error({ err, file }, 'saving rule state failed');
      } finally {
        this.persisting = null;
      }
    })();
    return this.persisting;
  }
}
