/**
 * The alarm service's options, its ports (what it needs of the ingest and
 * the WebSocket hub) and what it shows (alarm views, frames, filters,
 * operator actions); service.ts re-exports them.
 */
import type { Logger } from 'pino';
import type { AlarmFrame, AlarmsSnapshotFrame, AlarmView, DevicePlace, Topology } from '../../contract/index.ts';
import type { AlarmState, RuleIssue, Severity, SeverityName } from '../rules/index.ts';
import type { StoredReading } from '../store/types.ts';
import type { AlarmPlace, AlarmScope } from '../live-hub.ts';
import { GridwatchError } from '../errors.ts';
import type { AlarmJournal } from './journal.ts';

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
  pushAlarm(frame: { seq: number }, place: AlarmPlace | null, resync?: (scope: AlarmScope) => { seq: number }): void;
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

// what the API and the WebSocket show is what the browser reads: declared in contract/frames.ts
export type { AlarmFrame, AlarmsSnapshotFrame, AlarmView };

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
