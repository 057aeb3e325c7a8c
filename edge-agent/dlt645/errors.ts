/** DL/T 645 errors: the agent's EdgeAgentError with a `GW_ERR_DLT645_*` code (see ../errors.ts for what each means). */
import { EdgeAgentError, type EdgeErrorCode } from '../errors.ts';
import type { MeterErrorName } from './frame.ts';

export type Dlt645ErrorCode = Extract<EdgeErrorCode, `GW_ERR_DLT645_${string}`>;

export class Dlt645Error extends EdgeAgentError {
  override name = 'Dlt645Error';
  declare readonly code: Dlt645ErrorCode;
  /** for GW_ERR_DLT645_METER: the error bits the meter set */
  readonly meterErrors: readonly MeterErrorName[];
  constructor(code: Dlt645ErrorCode, message: string, opts: { cause?: unknown; retryable?: boolean; meterErrors?: readonly MeterErrorName[] } = {}) {
    super(code, message, { cause: opts.cause, retryable: opts.retryable ?? code !== 'GW_ERR_DLT645_CLOSED' });
    this.meterErrors = opts.meterErrors ?? [];
  }
}
