/**
 * Rules and alarms: the pure domain core of issue 5. The only file other
 * folders import. No I/O, no clock, no timers: time comes in as `now` / `at`
 * (epoch ms); everything returned is a value, every state plain JSON.
 *
 * ## How the pieces fit (what the wiring around this does)
 *
 * ```
 * rules file ──rulesFromYaml──▶ RuleSet (frozen)
 *
 * reading of device d (after validation, values withDerived):
 *   for rule of rulesForDevice(rules, d, place):        // threshold, rate_of_change, stale, unbalance, anomaly, outage
 *     { state, transition } = step(states[rule.id, d], { ts, values, q, late }, rule, now)
 *     persist state; if transition:
 *       outage  → re-run correlateOutages(outage states, topology, rule, now) and apply planOutageOps(...)
 *       others  → applyOp(alarms[id], toAlarmOp(rule.id, d, transition), transition.at)   // id = alarmId(rule.id, d)
 * call from site s:  step(states[callRule.id, s], callInput(ts), callRule, now) → raise alarmId(callRule.id, s)
 * every second:      tick(state, rule, now) for each (rule, source) state — and, for stale rules, each device
 *                    in scope without state yet; applyOp expire_shelf for dueShelfExpiries(alarms, now)
 * at start:          alarms = rebuild(journal); states = persisted states mapped through resume(state, rule, now)
 * every AlarmTransition: append to the journal (which assigns seq), then push on the WebSocket
 * operator actions:  applyOp(alarm, { op: 'acknowledge' | 'shelve' | … }, now); a rejection is { ok: false, error }
 * ```
 *
 * A raise for a source that is suppressed by design should carry
 * `suppress: reason` (see planSuppressionOps / agentSuppressions), so it lands
 * in `suppressed` without annunciating.
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
 * See schema.ts for every kind's keys and defaults, and rules.example.yaml.
 */
export {
  parseRules,
  rulesFromYaml,
  formatIssue,
  deepMerge,
  scopeMatches,
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
export {
  step,
  tick,
  resume,
  initialState,
  conditionActive,
  callInput,
  supplyStatus,
  staleAfterMs,
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
  planSuppressionOps,
  planOutageOps,
  transformerSource,
  type OutageCondition,
  type OutageCorrelation,
  type Suppression,
} from './outage.ts';
export { alarmHealth, type AlarmHealth, type HealthOptions, type PositionHealth } from './health.ts';
export { toAlarmOp } from './bridge.ts';
export { RulesError, type RulesErrorCode, type AlarmOpError } from './errors.ts';
