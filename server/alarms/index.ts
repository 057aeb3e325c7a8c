/**
 * Alarms: the service around the pure core of server/rules, its
 * journal port with DuckDB and InfluxDB adapters, and the REST routes.
 * The only file other folders import.
 */
export {
  AlarmService,
  RulesRejected,
  type AlarmFilter,
  type AlarmFrame,
  type AlarmIngest,
  type AlarmOptions,
  type AlarmPush,
  type AlarmServiceDeps,
  type AlarmsSnapshotFrame,
  type AlarmView,
  type EscalationOptions,
  type OperatorAction,
} from './service.ts';
export {
  matchesQuery,
  type AlarmJournal,
  type EscalationEntry,
  type JournalEntry,
  type JournalEntryKind,
  type JournalQuery,
  type RulesEntry,
  type TransitionEntry,
} from './journal.ts';
export { DuckDbAlarmJournal } from './journal-duckdb.ts';
export { InfluxAlarmJournal, JOURNAL_MEASUREMENT, journalLine, type InfluxQuery } from './journal-influx.ts';
export { alarmRoutes, type AlarmRoutesOptions } from './routes.ts';
export { postWebhook, redactUrl, type WebhookOptions, type WebhookResult } from './escalation.ts';
export { DEFAULT_DOCUMENT, loadRulesDocument, rulesPath, updateRulesYaml, type RulesDocument } from './rules-file.ts';
