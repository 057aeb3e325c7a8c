/**
 * The alarm service's read side (service.ts): alarms as the API and the
 * WebSocket show them (place, acknowledgement, escalation), the filtered
 * list, one alarm, journal entries (those not yet written included), one
 * alarm's history, alarm-health figures, and the set a WebSocket client
 * asks for on (re)connection. It reads the service's state and changes none.
 */
import type { AlarmListAnswer, DevicePlace } from '../../contract/index.ts';
import { alarmHealth, severityName, type AgentPlace, type Alarm, type AlarmHealth, type AlarmState, type AlarmTransition, type Rule } from '../rules/index.ts';
import type { AlarmScope } from '../live-hub.ts';
import { GridwatchError } from '../errors.ts';
import { matchesQuery, type AlarmJournal, type JournalEntry, type JournalQuery, type TransitionEntry } from './journal.ts';
import type { AlarmFilter, AlarmsSnapshotFrame, AlarmView } from './service-types.ts';

/** What the queries read of the service: its live maps (never copied) and accessors for what it replaces. */
export interface QuerySource {
  alarms: ReadonlyMap<string, Alarm>;
  /** the acknowledgement of each alarm's current annunciation */
  acks: ReadonlyMap<string, { by: string; at: number; comment?: string }>;
  /** alarmId → `since` of the annunciation last escalated, and when */
  escalated: ReadonlyMap<string, { since: number; at: number }>;
  /** recent journal entries, for clients resuming with `since` */
  recent: readonly JournalEntry[];
  journal: AlarmJournal;
  devices: ReadonlyMap<string, DevicePlace>;
  agents: ReadonlyMap<string, AgentPlace>;
  /** `site/transformer` → where it is */
  transformers: ReadonlyMap<string, { site: string; room: string; transformer: string }>;
  /** the last seq given out */
  seq(): number;
  /** journal entries not yet written */
  pending(): readonly JournalEntry[];
  rule(ruleId: string): Readonly<Rule> | undefined;
  /** the site readings of a device the topology does not place came from */
  deviceSite(device: string): string | undefined;
}

export class AlarmQueries {
  constructor(private readonly s: QuerySource) {}

  placeOf(a: Pick<Alarm, 'alarmId' | 'ruleId' | 'source'>): { site: string; room: string; transformer: string; line: string } {
    const p = this.s.devices.get(a.source);
    if (p) return { site: p.site, room: p.room, transformer: p.transformer, line: p.line };
    const agentRoom = this.s.agents.get(a.source)?.rooms[0];
    if (agentRoom) return { ...agentRoom, transformer: '', line: '' };
    const kind = this.s.rule(a.ruleId)?.kind;
    const t = this.s.transformers.get(a.source);
    if (t && kind !== 'call') return { ...t, line: '' };
    if (kind === 'call') {
      // the room the call came from, when it said (or the site has one room)
      const room = this.s.alarms.get(a.alarmId)?.detail?.room;
      return { site: a.source, room: typeof room === 'string' ? room : '', transformer: '', line: '' };
    }
    return { site: this.s.deviceSite(a.source) ?? '', room: '', transformer: '', line: '' };
  }

  view(a: Alarm): AlarmView {
    const rule = this.s.rule(a.ruleId);
    const esc = this.s.escalated.get(a.alarmId);
    return {
      ...a,
      severityName: severityName(a.severity),
      ruleName: rule?.name ?? null,
      ...this.placeOf(a),
      // kept from the acknowledgement until the next annunciation
      acknowledged: this.s.acks.get(a.alarmId) ?? null,
      escalatedAt: esc && esc.since === a.since ? esc.at : null,
    };
  }

  /** The current set: every alarm not in state normal. */
  current(): AlarmView[] {
    const out: AlarmView[] = [];
    for (const a of this.s.alarms.values()) if (a.state !== 'normal') out.push(this.view(a));
    return sortAlarms(out);
  }

  list(f: AlarmFilter = {}): AlarmListAnswer {
    const states = f.state === 'all' ? null : f.state ? new Set(f.state) : null;
    const out: AlarmView[] = [];
    for (const a of this.s.alarms.values()) {
      if (f.state === undefined ? a.state === 'normal' : states !== null && !states.has(a.state)) continue;
      if (f.severity && !f.severity.includes(a.severity)) continue;
      if (f.ruleId && !f.ruleId.includes(a.ruleId)) continue;
      if (f.source && !f.source.includes(a.source)) continue;
      if (f.active !== undefined && a.active !== f.active) continue;
      if (f.from !== undefined && a.updatedAt < f.from) continue;
      if (f.to !== undefined && a.updatedAt >= f.to) continue;
      const v = this.view(a);
      if (f.site && !f.site.includes(v.site)) continue;
      out.push(v);
    }
    sortAlarms(out);
    return { seq: this.s.seq(), total: out.length, alarms: f.limit !== undefined ? out.slice(0, f.limit) : out };
  }

  get(alarmId: string): AlarmView {
    const a = this.s.alarms.get(alarmId);
    if (!a) throw new GridwatchError('GW_ERR_ALARM_UNKNOWN', `no alarm ${alarmId}`);
    return this.view(a);
  }

  /** Journal entries, including those not yet written, in seq order. */
  async journalEntries(q: JournalQuery = {}): Promise<JournalEntry[]> {
    const pending = this.s.pending().filter((e) => matchesQuery(e, q));
    const stored = await this.s.journal.read(q.limit !== undefined ? { ...q, limit: q.limit + pending.length } : q);
    const bySeq = new Map<number, JournalEntry>();
    for (const e of [...stored, ...pending]) bySeq.set(e.seq, e);
    const out = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    return q.limit !== undefined ? out.slice(0, q.limit) : out;
  }

  async history(alarmId: string, q: Omit<JournalQuery, 'alarmId'> = {}): Promise<JournalEntry[]> {
    const events = await this.journalEntries({ ...q, alarmId });
    if (events.length === 0 && !this.s.alarms.has(alarmId)) throw new GridwatchError('GW_ERR_ALARM_UNKNOWN', `no alarm ${alarmId}`);
    return events;
  }

  async health(from: number, to: number, byPosition: 'all' | 'site' = 'all'): Promise<AlarmHealth> {
    const events = (await this.journalEntries({ kind: 'transition', to })) as TransitionEntry[];
    const positionOf = byPosition === 'site' ? (t: AlarmTransition) => this.placeOf(t).site || '(none)' : undefined;
    return alarmHealth(events, positionOf ? { from, to, positionOf } : { from, to });
  }

  // ---------------------------------------------------------------- WebSocket resume

  /**
   * The current set at the current seq, plus what the client missed after
   * `since` when still in memory; narrowed to the sites / rooms of `scope`
   * (the client's subscription) as its pushed frames are.
   */
  snapshot(since?: number, scope: AlarmScope = null): AlarmsSnapshotFrame {
    const inScope = (p: { site: string; room: string }) => scope === null || scope.sites.includes(p.site) || scope.rooms.includes(p.room);
    let missed: JournalEntry[] | null = null;
    if (since !== undefined && since <= this.s.seq()) {
      const first = this.s.recent[0];
      if (since === this.s.seq()) missed = [];
      else if (first !== undefined && first.seq <= since + 1)
        missed = this.s.recent.filter((e) => e.seq > since && (e.kind === 'rules' || inScope(this.placeOf(e))));
    }
    return { type: 'alarms', seq: this.s.seq(), alarms: this.current().filter(inScope), missed };
  }

  clientMessage(msg: Record<string, unknown>, reply: (frame: object) => void, scope: AlarmScope): boolean {
    if (msg.type !== 'alarms') return false;
    const bad = (message: string) => reply({ type: 'error', code: 'GW_ERR_WS_BAD_MESSAGE', message });
    const unknown = Object.keys(msg).filter((k) => k !== 'type' && k !== 'since');
    if (unknown.length) return (bad(`unknown keys: ${unknown.join(', ')}`), true);
    const since = msg.since;
    if (since !== undefined && (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0)) return (bad('since must be a non-negative integer'), true);
    reply(this.snapshot(since, scope));
    return true;
  }
}

/** Most urgent first: severity, then annunciating before the rest, then newest. */
function sortAlarms(list: AlarmView[]): AlarmView[] {
  const rank = (s: AlarmState) => (s === 'unack_active' ? 0 : s === 'unack_rtn' ? 1 : s === 'ack_active' ? 2 : 3);
  return list.sort((a, b) => a.severity - b.severity || rank(a.state) - rank(b.state) || b.since - a.since || (a.alarmId < b.alarmId ? -1 : 1));
}
