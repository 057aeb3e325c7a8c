/** Server error codes: stable, machine-readable, documented in docs/api.md (Errors). */
export type ServerErrorCode =
  | 'GW_ERR_CONFIG_INVALID'
  | 'GW_ERR_TOPOLOGY_INVALID'
  | 'GW_ERR_STORE_WRITE'
  | 'GW_ERR_STORE_QUERY'
  | 'GW_ERR_STORE_UNAVAILABLE'
  | 'GW_ERR_HTTP_BAD_REQUEST'
  | 'GW_ERR_HTTP_NOT_FOUND'
  | 'GW_ERR_WS_BAD_MESSAGE'
  | 'GW_ERR_AUTH_BAD_CREDENTIALS'
  | 'GW_ERR_AUTH_RATE_LIMITED'
  // users and sessions (server/auth.ts, server/routes/users.ts)
  | 'GW_ERR_AUTH_REQUIRED'
  | 'GW_ERR_AUTH_FORBIDDEN'
  | 'GW_ERR_AUTH_ORIGIN'
  | 'GW_ERR_AUTH_WRONG_PASSWORD'
  | 'GW_ERR_USER_UNKNOWN'
  | 'GW_ERR_USER_EXISTS'
  | 'GW_ERR_USER_INVALID'
  | 'GW_ERR_USER_LAST_ADMIN'
  // alarms (server/alarms): operator actions refused by the alarm state machine, rules, journal
  | 'GW_ERR_ALARM_UNKNOWN'
  | 'GW_ERR_ALARM_INVALID_TRANSITION'
  | 'GW_ERR_ALARM_BAD_ARGUMENT'
  | 'GW_ERR_RULES_INVALID'
  | 'GW_ERR_RULE_UNKNOWN'
  | 'GW_ERR_RULES_CONFLICT'
  | 'GW_ERR_RULES_UNAVAILABLE'
  | 'GW_ERR_JOURNAL_UNAVAILABLE'
  | 'GW_ERR_JOURNAL_WRITE'
  | 'GW_ERR_JOURNAL_READ'
  // outage pool (server/outages): plans, findings, repair calls
  | 'GW_ERR_PLAN_INVALID'
  | 'GW_ERR_PLAN_OVERLAP'
  | 'GW_ERR_PLAN_UNKNOWN'
  | 'GW_ERR_PLAN_STATE'
  | 'GW_ERR_PLAN_STALE'
  | 'GW_ERR_OUTAGE_UNKNOWN'
  | 'GW_ERR_FINDING_UNKNOWN'
  | 'GW_ERR_TICKET_INVALID'
  | 'GW_ERR_POOL_UNAVAILABLE'
  // risk items (server/risk/items)
  | 'GW_ERR_RISK_ITEM_UNKNOWN'
  | 'GW_ERR_RISK_ITEM_STATE'
  // risk reports (server/risk/reports): PDF printing by Chromium
  | 'GW_ERR_REPORT_PDF_UNAVAILABLE'
  | 'GW_ERR_REPORT_PDF_FAILED';

export class GridwatchError extends Error {
  readonly code: ServerErrorCode;
  /** true when trying again later may succeed (a store that is down), false for bad input */
  readonly retryable: boolean;
  constructor(code: ServerErrorCode, message: string, opts: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GridwatchError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

export class ConfigError extends GridwatchError {
  readonly issues: string[];
  constructor(what: string, issues: string[], code: ServerErrorCode = 'GW_ERR_CONFIG_INVALID') {
    super(code, `invalid ${what}:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
