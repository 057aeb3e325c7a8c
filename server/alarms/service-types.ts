/**
 * The alarm service's options, its ports (what it needs of the ingest and
 * the WebSocket hub) and what it shows (alarm views, frames, filters,
 * operator actions); service.ts re-exports them.
 */
import type { Logger } from 'pino';
import type { DevicePlace, Topology } from '../../contract/index.ts';
import type { Alarm, AlarmState, AlarmTransition, RuleIssue, Severity, SeverityName } from '../rules/index.ts';
import type { StoredReading } from '../store/types.ts';
import type { AlarmPlace, AlarmScope } from '../live-hub.ts';
import { GridwatchError } from '../errors.ts';
import type { AlarmJournal, EscalationEntry, JournalEntry, RulesEntry } from './journal.ts';

// ---------------------------------------------------------------- options and ports

export interface EscalationOptions {
  /** POST target; absent → no escalation */
  webhookUrl?: string;
  /** longest an alarm may stay unacknowledged per severity, s; 0 = never escalates */
  afterS: Record<SeverityName, number>;
  attempts: number;
  retryDelayMs: number;
  timeoutMs: number;
}

export interface AlarmOptions {
  /** rules YAML (GW_RULES_FILE); see rules-file.ts for what happens without one */
  rulesFile?: string;
  dataDir: string;
  tickMs: number;
  persistIntervalMs: number;
  /** recent journal entries kept for WebSocket clients resuming with `since` */
  resumeBuffer: number;
  escalation: EscalationOptions;
}

/** What the service needs from the ingest (server/ingest.ts). */
export interface AlarmIngest {
  onReadings(fn: (readings: readonly StoredReading[], agent: string) => void): void;
  onCall(fn: (site: string, payload: Buffer) => void): void;
  onAgentState(fn: (agent: string, state: string) => void): void;
  /** the server's own broker connection: true on (re)connection, false when lost; absent → always connected */
  onConnection?(fn: (connected: boolean) => void): void;
}

/** What the service needs from the WebSocket hub (server/live-hub.ts). */
export interface AlarmPush {
  /** to the clients whose subscription covers `place` (null: all), each copy with that client's `prevSeq` */
  pushAlarm(frame: { seq: number }, place: AlarmPlace | null): void;
  /** runs fn with its pushes sent together when it returns (one write per client) */
  batched?<T>(fn: () => T): T;
  onClientMessage(fn: (msg: Record<string, unknown>, reply: (frame: object) => void, scope: AlarmScope) => boolean): void;
}

export interface AlarmServiceDeps {
  ingest: AlarmIngest;
  live: AlarmPush;
  journal: AlarmJournal;
  topology: Topology;
  devices: ReadonlyMap<string, DevicePlace>;
  log: Logger;
  options: AlarmOptions;
  /** epoch ms; Date.now by default */
  clock?: () => number;
}

// ---------------------------------------------------------------- what the API and the push show

/** An alarm as the API and the WebSocket show it: the FSM's alarm plus where it is and who took it. */
export interface AlarmView extends Alarm {
  severityName: SeverityName;
  ruleName: string | null;
  /** '' where unknown / not applicable */
  site: string;
  room: string;
  transformer: string;
  line: string;
  /** the acknowledgement of the current annunciation */
  acknowledged: { by: string; at: number; comment?: string } | null;
  /** when the current annunciation was escalated to the webhook */
  escalatedAt: number | null;
}

/** Alarm frames as the service hands them to the hub; on the wire each also carries the client's `prevSeq` (LiveHub.pushAlarm). */
export type AlarmFrame =
  | { type: 'alarm'; seq: number; transition: AlarmTransition; alarm: AlarmView }
  | { type: 'alarm_escalation'; seq: number; escalation: EscalationEntry }
  | { type: 'alarm_rules'; seq: number; change: Omit<RulesEntry, 'document'> };

/** Reply to a client's `{ type: 'alarms', since? }`. */
export interface AlarmsSnapshotFrame {
  type: 'alarms';
  /** every transition up to this seq is reflected in `alarms`; apply pushed frames with a larger seq */
  seq: number;
  /** the current set: every alarm not in state normal */
  alarms: AlarmView[];
  /** the journal entries after the client's `since`, when still held in memory; null otherwise */
  missed: JournalEntry[] | null;
}

export interface AlarmFilter {
  /** states to include; absent → every state but normal; 'all' → every alarm */
  state?: readonly AlarmState[] | 'all';
  severity?: readonly Severity[];
  site?: readonly string[];
  ruleId?: readonly string[];
  source?: readonly string[];
  /** the process condition */
  active?: boolean;
  /** last transition at or after (epoch ms) */
  from?: number;
  /** last transition before (epoch ms) */
  to?: number;
  limit?: number;
}

export type OperatorAction =
  | { op: 'acknowledge'; comment?: string }
  | { op: 'shelve'; reason: string; until: number }
  | { op: 'unshelve'; comment?: string }
  | { op: 'comment'; comment: string }
  | { op: 'remove_from_service'; reason: string }
  | { op: 'return_to_service'; comment?: string };

/** A rules change that failed validation: every issue, located by rule id. */
export class RulesRejected extends GridwatchError {
  constructor(readonly issues: RuleIssue[]) {
    super('GW_ERR_RULES_INVALID', `rules rejected: ${issues.length} issue(s): ${issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}
