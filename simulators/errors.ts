/** Simulator error codes: stable, machine-readable (docs/conventions.md, errors have codes). */
export type SimulatorErrorCode =
  | 'GW_ERR_SIM_CONFIG_INVALID'
  | 'GW_ERR_SIM_LISTEN'
  | 'GW_ERR_SIM_UNKNOWN_UNIT'
  /** a recorded feed line that is not a reading */
  | 'GW_ERR_SIM_FEED_INVALID';

export class SimulatorError extends Error {
  override readonly name = 'SimulatorError';
  readonly code: SimulatorErrorCode;
  /** true when trying again may help (a port that is busy now) */
  readonly retryable: boolean;
  /** every problem of an invalid document, as `path: message` */
  readonly issues: readonly string[];
  constructor(code: SimulatorErrorCode, message: string, opts: { cause?: unknown; retryable?: boolean; issues?: readonly string[] } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.issues = opts.issues ?? [];
  }
}
