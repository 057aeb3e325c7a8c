/**
 * Edge-agent errors (docs/conventions.md, errors have codes): a stable `code`
 * (`GW_ERR_<AREA>_<WHAT>`), the `cause`, and whether trying again can help.
 * A failing device never throws out of the poller: its error becomes the
 * device's `comm_loss` state and a counted, logged reason.
 */
export type EdgeErrorCode =
  /** the agent config file does not match the schema */
  | 'GW_ERR_CONFIG_INVALID'
  /** a device profile (register map) does not match the schema */
  | 'GW_ERR_PROFILE_INVALID'
  /** no connection to the Modbus TCP endpoint (refused, unreachable, connect timeout, in reconnect backoff) */
  | 'GW_ERR_MODBUS_CONNECT'
  /** the connection broke while a request was outstanding */
  | 'GW_ERR_MODBUS_SOCKET'
  /** the unit did not answer within the request timeout */
  | 'GW_ERR_MODBUS_TIMEOUT'
  /** the unit answered with a Modbus exception (illegal address, device failure, gateway path …) */
  | 'GW_ERR_MODBUS_EXCEPTION'
  /** an answer that cannot be used (wrong length, CRC, unexpected function code) */
  | 'GW_ERR_MODBUS_RESPONSE'
  /** the connection was closed by the agent (stop) */
  | 'GW_ERR_MODBUS_CLOSED'
  /** DL/T 645: no connection to the TCP gateway, or the serial port cannot be opened (or in reconnect backoff) */
  | 'GW_ERR_DLT645_CONNECT'
  /** DL/T 645: the link closed while a request was outstanding */
  | 'GW_ERR_DLT645_SOCKET'
  /** DL/T 645: no reply within the request timeout (and no broken frame either) */
  | 'GW_ERR_DLT645_TIMEOUT'
  /** DL/T 645: bytes came that are no frame (bad checksum, length, end byte, cut short); the reasons are in the message */
  | 'GW_ERR_DLT645_FRAME'
  /** DL/T 645: the meter answered abnormally (D1H/D2H); the decoded error byte is in the message */
  | 'GW_ERR_DLT645_METER'
  /** DL/T 645: a well-formed reply that does not fit the request (identifier, length) */
  | 'GW_ERR_DLT645_RESPONSE'
  /** DL/T 645: the bus was closed by the agent (stop) */
  | 'GW_ERR_DLT645_CLOSED'
  /** start/stop called in the wrong lifecycle state */
  | 'GW_ERR_AGENT_STATE'
  /** the spool directory belongs to another running process */
  | 'GW_ERR_SPOOL_LOCKED'
  /** the spool cannot be opened (directory not creatable, unreadable) */
  | 'GW_ERR_SPOOL_IO';

export class EdgeAgentError extends Error {
  override name = 'EdgeAgentError';
  readonly code: EdgeErrorCode;
  /** true when the same operation may succeed later (a meter that is down), false for bad input */
  readonly retryable: boolean;
  constructor(code: EdgeErrorCode, message: string, opts: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

/** Every problem of a config or profile document at once, each as `path: message`. */
export class ConfigError extends EdgeAgentError {
  override name = 'ConfigError';
  readonly issues: readonly string[];
  constructor(what: string, issues: readonly string[], code: 'GW_ERR_CONFIG_INVALID' | 'GW_ERR_PROFILE_INVALID' = 'GW_ERR_CONFIG_INVALID') {
    super(code, `invalid ${what} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  - ${issues.join('\n  - ')}`);
    this.issues = issues;
  }
}

export class ModbusError extends EdgeAgentError {
  override name = 'ModbusError';
  /** the Modbus exception code for GW_ERR_MODBUS_EXCEPTION (2 = illegal data address, 11 = gateway target failed to respond …) */
  readonly exceptionCode: number | undefined;
  constructor(
    code: Extract<EdgeErrorCode, `GW_ERR_MODBUS_${string}`>,
    message: string,
    opts: { cause?: unknown; retryable?: boolean; exceptionCode?: number } = {},
  ) {
    super(code, message, { retryable: opts.retryable ?? code !== 'GW_ERR_MODBUS_CLOSED', cause: opts.cause });
    this.exceptionCode = opts.exceptionCode;
  }
}
