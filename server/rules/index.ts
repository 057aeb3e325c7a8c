/**
 * Rules and alarms: the pure domain core. The only file other
 * folders import. No I/O, no clock, no timers: time comes in as `now` / `at`
 * (epoch ms); everything returned is a value, every state plain JSON.
 *
 * ## How the pieces fit (what the wiring around this does)
 *
 * ```
 * start:   rules  = rulesFromYaml(text)                          // throws RulesError listing every issue
 *          alarms = rebuild(journal)                             // Map<alarmId, Alarm>
 *          states = persisted RuleState per (rule.id, source), each through resume(state, rule, now)
 *
 * a batch of readings (validated; values = withDerived(v, place)), for each reading of device d:
 *   1. outage rule first: states[o, d] = step(states[o, d], input, o, now).state
 *      then  corr = correlateOutages(outage states by device, topology, o, now)
 *            for op of planOutageOps(alarms, o.id, corr, { moreSuppressions: agentSuppressions(topology, offlineAgents) })
 *              apply(op)
 *   2. every other rule of rulesForDevice(rules, d, place):
 *        { state, transition } = step(states[rule.id, d], input, rule, now)
 *      (the service calls stepOwned, the same step updating the state it gives up in place)
 *        if transition: apply(toAlarmOp(rule.id, d, transition, <suppression reason of d, if any>)) at transition.at
 *      (in this order a consequence alarm of a dark meter is born suppressed and never annunciates)
 * a call on gridwatch/v1/{site}/call: step(states[c, site], callInput(ts), c, now) for the call rule c
 *   (scopeMatchesSite), then apply(toAlarmOp(c.id, site, transition))
 * once a second: tick(state, rule, now) for every (rule, source) with state, and for stale rules also every
 *   device in scope without state yet (a meter that never reports); re-run the outage correlation;
 *   apply { op: 'expire_shelf' } for dueShelfExpiries(alarms.values(), now)
 * apply(op): r = applyOp(alarms.get(op.alarmId), op, at); if r.ok: store r.alarm, append r.transitions
 *   to the journal (which assigns seq) and push them on the WebSocket, in order, never conflated
 * operator actions: applyOp(alarm, { op: 'acknowledge' | 'shelve' | 'unshelve' | 'comment' | … }, now);
 *   a refusal is { ok: false, error: { code, message } }, e.g. GW_ERR_ALARM_INVALID_TRANSITION
 * health: alarmHealth(journal slice, { from, to, positionOf })
 * ```
 *
 * Persist rule state whenever it changes (or on a short interval): a running
 * on-delay or a baseline then survives a restart; `resume` keeps server
 * downtime from counting as meter silence.
 *
 * ## Severities
 * 1 critical · 2 high · 3 medium · 4 low (ISA-18.2 priorities; smaller = more
 * urgent). A rules file may write the number or the name. The one-key call
 * and outages default to 1.
 *
 * ## Rules file (YAML)
 * ```yaml
 * version: 1
 * useDefaults: true            # start from DEFAULT_RULES (GB/T 12325, 15543, 15945; State Grid)
 * rules:
 *   - id: u-deviation          # a default's id: deep-merged onto it
 *     levels: { hi: { value: 240 } }
 *   - id: tx-load
 *     onDelayS: 3600           # heavy load / overload after 1 h instead of 2 h
 *   - id: load-anomaly
 *     enabled: false
 *   - id: l-102-2-jump         # a new rule
 *     kind: rate_of_change
 *     scope: { site: cd-east, line: l-102-2 }
 *     quantity: load_rate
 *     windowS: 60
 *     change: { abs: 30 }
 *     direction: rise
 *     severity: high
 * ```
 * See kinds/<kind>.ts for every kind's keys and defaults (registry.ts lists
 * the kinds), and rules.example.yaml.
 */
export {
  parseRules,
  rulesFromYaml,
  formatIssue,
  deepMerge,
  scopeMatches,
  ruleCovers,
  scopeMatchesSite,
  rulesForDevice,
  severityName,
  SEVERITIES,
  SEVERITY_NAMES,
  RULE_KINDS,
  RULE_ID_PATTERN,
  type Severity,
  type SeverityName,
  type Rule,
  type RuleKind,
  type RuleSet,
  type RuleIssue,
  type RulesResult,
  type Scope,
  type ScopeFilter,
  type ThresholdRule,
  type RateOfChangeRule,
  type StaleRule,
  type UnbalanceRule,
  type AnomalyRule,
  type OutageRule,
  type CallRule,
} from './schema.ts';
export { DEFAULT_RULES } from './defaults.ts';
export { KINDS, isSampled, isSiteKind, mostUrgentSeverity, judgedQuantities, carriesAny, type AnyKind } from './registry.ts';
export type { KindDescriptor } from './kinds/common.ts';
export {
  step,
  stepOwned,
  tick,
  resume,
  initialState,
  conditionActive,
  callInput,
  supplyStatus,
  staleAfterMs,
  CLOCK_AHEAD_MS,
  readingTime,
  timeOfDayBucket,
  INTERVAL_CLOSE_GRACE_MS,
  type RuleInput,
  type RuleState,
  type StepResult,
  type ConditionTransition,
} from './engine.ts';
export {
  applyOp,
  applyTransition,
  rebuild,
  alarmId,
  parseAlarmId,
  annunciates,
  needsAck,
  dueShelfExpiries,
  escalationDue,
  ALARM_STATES,
  TRANSITION_REASONS,
  type Alarm,
  type AlarmOp,
  type AlarmOpName,
  type AlarmResult,
  type AlarmState,
  type AlarmTransition,
  type TransitionReason,
  type JsonObject,
  type JsonValue,
} from './alarm.ts';
export {
  correlateOutages,
  agentSuppressions,
  agentPlaces,
  planAgentOps,
  planSuppressionOps,
  planOutageOps,
  transformerSource,
  type AgentPlace,
  type OutageCondition,
  type OutageCorrelation,
  type Suppression,
} from './outage.ts';
export { alarmHealth, type AlarmHealth, type HealthOptions, type PositionHealth } from './health.ts';
export { toAlarmOp } from './bridge.ts';
export { RulesError, type RulesErrorCode, type AlarmOpError } from './errors.ts';
