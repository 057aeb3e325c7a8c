/** Simulator error codes (CONVENTIONS.md §6): stable, machine-readable. */
export type SimulatorErrorCode = 'GW_ERR_SIM_CONFIG_INVALID' | 'GW_ERR_SIM_LISTEN' | 'GW_ERR_SIM_UNKNOWN_UNIT';

export class SimulatorError extends Error {
  override readonly name = 'SimulatorError';
  readonly code: SimulatorErrorCode;
  /** true when trying again may help (a port that is busy now) */
  readonly retryable: boolean;
  constructor(code: SimulatorErrorCode, message: string, opts: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}
