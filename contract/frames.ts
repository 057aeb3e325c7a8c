/**
 * What the browser reads from the server: the WebSocket frames of live values
 * and alarms, the alarm as the API shows it, its journal entries, and the
 * answers of the alarm REST routes (docs/api.md). The server builds these
 * values (server/live-hub.ts, server/alarms/) and the dashboard reads them
 * (dashboard/src/live.ts, dashboard/src/alarms/); both import the types from
 * here, so a field changed on one side is a type error on the other.
 * Types and the constant lists they are made of; no behaviour.
 */
import type { Quality, Values } from './readings.ts';

// ---------------------------------------------------------------- live values

/** One device's poll as the server stores and pushes it: the wire reading plus its place in the topology. */
export interface PlacedReading {
  site: string;
  room: string;
  transformer: string;
  line: string;
  device: string;
  /** epoch ms of the poll (the agent's timestamp, not arrival) */
  ts: number;
  q: Quality;
  /** a backfilled reading (older than the device's newest): stored, never alarmed on */
  late: boolean;
  v: Values;
}

/** A live value as pushed: the reading plus, for a device that lost contact, when it last read good. */
export interface LiveReading extends PlacedReading {
  /** epoch ms of the last good reading; equals ts while the device is good */
  goodTs: number | null;
}

/** What a client's `subscribe` narrows its readings (and, by sites and rooms, its alarm frames) to; absent or empty → all. */
export interface LiveFilter {
  sites?: string[];
  rooms?: string[];
  devices?: string[];
}

/** The live feed's frames (alarm frames below). */
export type ServerFrame =
  | { type: 'snapshot'; at: number; readings: LiveReading[] }
  | { type: 'readings'; at: number; readings: LiveReading[] }
  | { type: 'error'; code: string; message: string }
  | { type: 'pong'; at: number };

/** A client's `subscribe`: its filter, the quantities to send (absent → all) and its frame rate (capped by the server's). */
export interface LiveSubscription extends LiveFilter {
  quantities?: string[];
  maxFps?: number;
}

/** What a client sends on the WebSocket. */
export type ClientFrame =
  | ({ type: 'subscribe' } & LiveSubscription)
  | { type: 'ping' }
  /** the current alarm set, and the journal entries after `since` when the server still holds them */
  | { type: 'alarms'; since?: number };

// ---------------------------------------------------------------- alarms

/**
 * Four severities, ISA-18.2 "priority": 1 is the most urgent. A rules file
 * may write the number or the name; an alarm always holds the number.
 */
export const SEVERITIES = [1, 2, 3, 4] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SEVERITY_NAMES = ['critical', 'high', 'medium', 'low'] as const;
export type SeverityName = (typeof SEVERITY_NAMES)[number];

/** Displayed states of an alarm (ANSI/ISA-18.2; server/rules/alarm.ts has what each means). */
export const ALARM_STATES = ['normal', 'unack_active', 'ack_active', 'unack_rtn', 'shelved', 'suppressed', 'out_of_service'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

/** What caused a transition. */
export const TRANSITION_REASONS = [
  'raise', // condition became active (or active again)
  'level', // active condition changed level/severity without a new annunciation
  'clear', // condition gone
  'acknowledge',
  'shelve',
  'unshelve',
  'shelve_expired',
  'suppress',
  'unsuppress',
  'remove_from_service',
  'return_to_service',
  'comment',
] as const;
export type TransitionReason = (typeof TRANSITION_REASONS)[number];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

/**
 * One transition: what the journal appends and the WebSocket pushes.
 * `from === to` happens for events that change what is hidden behind the
 * displayed state (a raise while shelved, a comment, a level change); they
 * are journaled like the rest.
 */
export interface AlarmTransition {
  alarmId: string;
  ruleId: string;
  source: string;
  from: AlarmState;
  to: AlarmState;
  reason: TransitionReason;
  /** epoch ms when the transition happened (the decision time passed in as `at`) */
  at: number;
  /** operator who caused it; absent for transitions the system made */
  by?: string;
  /** operator comment, or the reason text of a shelve / suppression / removal from service */
  comment?: string;
  /** the alarm's severity after the transition */
  severity: Severity;
  /** the process condition after the transition */
  active: boolean;
  /** raise / level: the rule level (hi, hihi, dark, …) */
  level?: string;
  /** raise / level: human-readable description */
  message?: string;
  /** raise / level: structured detail (an outage's affected lines and meters) */
  detail?: JsonObject;
  /** shelve: epoch ms when the shelve expires */
  until?: number;
  /** assigned by the journal when it stores the transition; the FSM leaves it unset */
  seq?: number;
}

/** The current state of one alarm; plain JSON, derived entirely from its transitions. */
export interface Alarm {
  alarmId: string;
  ruleId: string;
  source: string;
  state: AlarmState;
  /** the process condition, tracked also while hidden */
  active: boolean;
  /** epoch ms the condition last became active; null while inactive */
  activeSince: number | null;
  severity: Severity;
  level: string | null;
  message: string | null;
  detail: JsonObject | null;
  /** epoch ms the alarm entered its displayed state */
  since: number;
  /** epoch ms of the last transition */
  updatedAt: number;
  shelf: { by: string; reason: string; at: number; until: number } | null;
  suppression: { reason: string; at: number } | null;
  outOfService: { by: string; reason: string; at: number } | null;
}

/** An alarm as the API and the WebSocket show it: the state machine's alarm plus where it is and who took it. */
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

// ---------------------------------------------------------------- the alarm journal

/** An alarm transition as journaled: the state machine's value plus its sequence number. */
export type TransitionEntry = AlarmTransition & { kind: 'transition'; seq: number };

/** An unacknowledged alarm sent to the escalation webhook, once per annunciation. */
export interface EscalationEntry {
  kind: 'escalation';
  seq: number;
  /** epoch ms when the escalation finished (delivered, or given up) */
  at: number;
  alarmId: string;
  ruleId: string;
  source: string;
  severity: Severity;
  /** epoch ms the annunciation began (the alarm's `since`): identifies it */
  since: number;
  /** the webhook, without credentials in its query or user info */
  target: string;
  attempts: number;
  delivered: boolean;
  /** HTTP status of the last attempt, when one answered */
  status?: number;
  error?: string;
}

/** An admin's change of the rules, applied without a restart. */
export interface RulesEntry {
  kind: 'rules';
  seq: number;
  at: number;
  by: string;
  /** the rule changed; '' when the whole document was replaced */
  ruleId: string;
  /** the rules document after the change (the YAML's data) */
  document: JsonObject;
  comment?: string;
}

export type JournalEntry = TransitionEntry | EscalationEntry | RulesEntry;
export type JournalEntryKind = JournalEntry['kind'];

// ---------------------------------------------------------------- alarm frames

/** Alarm frames as the alarm service hands them to the hub; never conflated, applied in seq order. */
export type AlarmFrame =
  | { type: 'alarm'; seq: number; transition: AlarmTransition; alarm: AlarmView }
  | { type: 'alarm_escalation'; seq: number; escalation: EscalationEntry }
  | { type: 'alarm_rules'; seq: number; change: Omit<RulesEntry, 'document'> };

/**
 * An alarm frame as a client receives it: with `prevSeq`, the seq of the
 * alarm frame this connection got before (a client narrowed to some sites
 * sees seq jump over other sites' frames without having missed any).
 */
export type PushedAlarmFrame = AlarmFrame & { prevSeq: number };

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

// ---------------------------------------------------------------- alarm REST answers

/** GET /api/alarms */
export interface AlarmListAnswer {
  seq: number;
  /** alarms matching the filter; `alarms` holds at most `limit` of them */
  total: number;
  alarms: AlarmView[];
}

/** GET /api/alarms/:id and every operator action's answer: the alarm as it now is */
export interface AlarmAnswer {
  seq: number;
  alarm: AlarmView;
}

/** GET /api/alarms/:id/history: its journal, oldest first */
export interface AlarmHistoryAnswer {
  alarmId: string;
  events: JournalEntry[];
}
