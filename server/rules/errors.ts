/**
 * Error codes of the rules and alarms part (docs/api.md, Errors). Pure code in
 * this folder returns failures as values (`{ ok: false, error }`); the only
 * thing that throws is `rulesFromYaml`, for the process that loads a file.
 */
export type RulesErrorCode =
  /** the rules file failed validation (every issue listed in `issues`) */
  | 'GW_ERR_RULES_INVALID'
  /** the operation is not allowed in the alarm's current state (ack of a normal alarm, …) */
  | 'GW_ERR_ALARM_INVALID_TRANSITION'
  /** an operator operation names an alarm that does not exist */
  | 'GW_ERR_ALARM_UNKNOWN'
  /** an operation's argument is unusable (empty who/reason, shelve expiry not in the future, bad alarm id) */
  | 'GW_ERR_ALARM_BAD_ARGUMENT';

/** A rejected alarm operation, as a value. Never retryable: the input is wrong for the state. */
export interface AlarmOpError {
  code: Exclude<RulesErrorCode, 'GW_ERR_RULES_INVALID'>;
  message: string;
}

export class RulesError extends Error {
  readonly code: RulesErrorCode;
  /** a new attempt with the same input fails the same way */
  readonly retryable = false;
  readonly issues: string[];
  constructor(code: RulesErrorCode, message: string, issues: string[] = [], opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RulesError';
    this.code = code;
    this.issues = issues;
  }
}
