/**
 * The edge agent's logger: JSON lines on stdout, written synchronously, in
 * the shape of pino's default output (which the server keeps using), so that
 * the journal, `grep '"level":50'` and the tests read both alike:
 *
 *   {"level":30,"time":<epoch ms>,"pid":..,"hostname":"..",<child bindings>,<fields>,"msg":".."}
 *
 * Levels trace 10, debug 20, info 30, warn 40, error 50, fatal 60 (and
 * `silent`). An `err` field is written like pino-std-serializers' `err`: type,
 * message and stack (with those of its causes appended), `aggregateErrors`,
 * then its other enumerable properties (`code`, …); an Error anywhere else in
 * the fields is written the same way (pino writes `{}` for those). Any
 * property named `password`, at any depth, is written as `[redacted]`.
 * Values that JSON.stringify refuses do not throw: a BigInt is written as its
 * digits, a circular reference as "[Circular]", a value whose getter or
 * toJSON throws as "[unserializable: <reason>]".
 *
 * Why not pino: for an agent that writes a few lines a minute to stdout, pino
 * brings sonic-boom, thread-stream (and with it node's worker_threads), its
 * redaction and stringify packages: about 90 KiB of source text V8 keeps for
 * the life of the process, plus the node builtins they load.
 *
 * Each line is one `fs.writeSync` to the file descriptor (1 by default): it is
 * out before the next statement runs, also before a `process.exit`. When
 * stdout is a non-blocking pipe that is full (EAGAIN), the write waits a
 * little and tries again until the reader has taken the whole line: a slow
 * reader slows the agent down, it loses no line. A write that fails for
 * another reason (EPIPE: nobody reads any more) drops that line; a log call
 * never throws.
 */
import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { EdgeAgentError } from './errors.ts';

export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

/** `log.info({ deviceId, err }, 'poll failed')` or `log.info('message')` */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

/**
 * What the agent's parts log with. pino's Logger satisfies it too, so a test
 * can hand a pino logger to createAgent and its parts.
 */
export interface Logger {
  /** trace … fatal, or silent; setting an unknown name throws */
  level: string;
  isLevelEnabled(level: string): boolean;
  /** a logger that adds these fields to each line (and follows this one's level until it gets its own) */
  child(bindings: Record<string, unknown>): Logger;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

export interface LoggerOptions {
  /** default info */
  level?: string;
  /** where the lines go: a file descriptor open for writing, default 1 (stdout) */
  fd?: number;
}

const SILENT = Infinity;

/** The value of a level name; throws a clear error (GW_ERR_CONFIG_INVALID) for an unknown one. */
export function logLevelValue(name: string): number {
  if (name === 'silent') return SILENT;
  const v = standardLevel(name);
  if (v === undefined) {
    throw new EdgeAgentError('GW_ERR_CONFIG_INVALID', `unknown log level ${JSON.stringify(name)}: one of ${Object.keys(LOG_LEVELS).join(', ')}, silent`);
  }
  return v;
}

function standardLevel(name: string): number | undefined {
  return Object.hasOwn(LOG_LEVELS, name) ? LOG_LEVELS[name as LogLevelName] : undefined;
}

function levelName(value: number): string {
  if (value === SILENT) return 'silent';
  for (const [name, v] of Object.entries(LOG_LEVELS)) if (v === value) return name;
  return 'silent';
}

/** The root logger of the agent process. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = logLevelValue(opts.level ?? 'info');
  const base = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`;
  return new AgentLogger(opts.fd ?? 1, undefined, base, level);
}

class AgentLogger implements Logger {
  /** this logger's own level, or undefined: its parent's */
  private ownLevel: number | undefined;

  constructor(
    private readonly fd: number,
    private readonly parent: AgentLogger | undefined,
    /** `,"pid":..,"hostname":..` and the bindings of this logger and its parents, serialised once */
    private readonly bindings: string,
    level?: number,
  ) {
    this.ownLevel = level;
  }

  private get levelValue(): number {
    // a child created before its parent's level changed follows the change, as in pino
    return this.ownLevel ?? this.parent!.levelValue;
  }

  get level(): string {
    return levelName(this.levelValue);
  }

  set level(name: string) {
    this.ownLevel = logLevelValue(name);
  }

  isLevelEnabled(name: string): boolean {
    const v = standardLevel(name);
    return v !== undefined && v >= this.levelValue;
  }

  child(bindings: Record<string, unknown>): Logger {
    return new AgentLogger(this.fd, this, this.bindings + fieldsJson(bindings), undefined);
  }

  trace(a: unknown, msg?: string): void {
    if (LOG_LEVELS.trace >= this.levelValue) this.write(LOG_LEVELS.trace, a, msg);
  }
  debug(a: unknown, msg?: string): void {
    if (LOG_LEVELS.debug >= this.levelValue) this.write(LOG_LEVELS.debug, a, msg);
  }
  info(a: unknown, msg?: string): void {
    if (LOG_LEVELS.info >= this.levelValue) this.write(LOG_LEVELS.info, a, msg);
  }
  warn(a: unknown, msg?: string): void {
    if (LOG_LEVELS.warn >= this.levelValue) this.write(LOG_LEVELS.warn, a, msg);
  }
  error(a: unknown, msg?: string): void {
    if (LOG_LEVELS.error >= this.levelValue) this.write(LOG_LEVELS.error, a, msg);
  }
  fatal(a: unknown, msg?: string): void {
    if (LOG_LEVELS.fatal >= this.levelValue) this.write(LOG_LEVELS.fatal, a, msg);
  }

  private write(level: number, a: unknown, msg: string | undefined): void {
    let line: string;
    try {
      line = `{"level":${level},"time":${Date.now()}${this.bindings}${formatCall(a, msg)}}\n`;
    } catch (err) {
      // formatCall guards every value; this is for what it cannot foresee (a Proxy that throws on ownKeys)
      line = `{"level":${level},"time":${Date.now()}${this.bindings},"msg":${JSON.stringify(String(msg ?? ''))},"logError":${JSON.stringify(reason(err))}}\n`;
    }
    writeLine(this.fd, line);
  }
}

/** the fields and `,"msg":..` of a call, as pino takes its arguments */
function formatCall(a: unknown, msg: string | undefined): string {
  if (a === null || a === undefined) return msgJson(msg);
  if (typeof a !== 'object') return msgJson(String(a));
  if (a instanceof Error) return fieldsJson({ err: a }) + msgJson(msg ?? a.message);
  const fields = a as Record<string, unknown>;
  if (msg === undefined && fields.msg === undefined && isErrorLike(fields.err)) msg = fields.err.message;
  return fieldsJson(fields) + msgJson(msg);
}

function msgJson(msg: string | undefined): string {
  return msg === undefined ? '' : `,"msg":${JSON.stringify(String(msg))}`;
}

/** `,"key":value` for each own enumerable property whose value is not undefined (nor a function) */
function fieldsJson(obj: Record<string, unknown>): string {
  let out = '';
  for (const key of Object.keys(obj)) {
    let value: unknown;
    try {
      value = obj[key];
    } catch (err) {
      value = `[unserializable: ${reason(err)}]`;
    }
    if (key === 'err' && isErrorLike(value)) value = serializeError(value);
    const json = valueJson(key, value);
    if (json !== undefined) out += `,${JSON.stringify(key)}:${json}`;
  }
  return out;
}

const AN_OBJECT = Symbol('an object');

/** a primitive value (null included) as JSON, undefined when JSON leaves it out, AN_OBJECT for an object */
function primitiveJson(value: unknown): string | undefined | typeof AN_OBJECT {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  return value === null ? 'null' : AN_OBJECT;
}

/** one value as JSON, or undefined when JSON leaves it out */
function valueJson(key: string, value: unknown): string | undefined {
  if (key === 'password' && value !== undefined) return '"[redacted]"';
  const primitive = primitiveJson(value);
  if (primitive !== AN_OBJECT) return primitive;
  try {
    return JSON.stringify(value, replacer);
  } catch {
    // a BigInt or a cycle inside: the slow way, which handles both
    try {
      return safeJson(key, value, []);
    } catch (err) {
      return JSON.stringify(`[unserializable: ${reason(err)}]`);
    }
  }
}

function replacer(key: string, value: unknown): unknown {
  if (key === 'password' && value !== undefined) return '[redacted]';
  return value instanceof Error ? serializeError(value) : value;
}

/** JSON.stringify with the replacer above, where a cycle is "[Circular]" and a BigInt its digits */
function safeJson(key: string, value: unknown, ancestors: object[]): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: (k: string) => unknown }).toJSON(key);
  }
  value = replacer(key, value);
  const primitive = primitiveJson(value);
  if (primitive !== AN_OBJECT) return primitive;
  const obj = value as object;
  if (ancestors.includes(obj)) return '"[Circular]"';
  ancestors.push(obj);
  let out: string;
  if (Array.isArray(obj)) {
    out = `[${obj.map((v, i) => safeJson(String(i), v, ancestors) ?? 'null').join(',')}]`;
  } else {
    const parts: string[] = [];
    for (const k of Object.keys(obj)) {
      const json = safeJson(k, (obj as Record<string, unknown>)[k], ancestors);
      if (json !== undefined) parts.push(`${JSON.stringify(k)}:${json}`);
    }
    out = `{${parts.join(',')}}`;
  }
  ancestors.pop();
  return out;
}

interface ErrorLike {
  message: string;
  name?: unknown;
  stack?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function isErrorLike(v: unknown): v is ErrorLike {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string';
}

/** what pino-std-serializers' `err` makes of an error: a plain object, the causes folded into message and stack */
function serializeError(err: ErrorLike, seen: Set<object> = new Set()): Record<string, unknown> {
  seen.add(err);
  const ctor = (err as { constructor?: unknown }).constructor;
  const out: Record<string, unknown> = {
    type: typeof ctor === 'function' ? ctor.name : err.name,
    message: causeChain(err, (e) => e.message, ': ', ': ...'),
    stack: causeChain(err, (e) => (typeof e.stack === 'string' ? e.stack : ''), '\ncaused by: ', '\ncauses have become circular...'),
  };
  if (Array.isArray(err.errors)) out.aggregateErrors = err.errors.map((e: unknown) => (isErrorLike(e) && !seen.has(e) ? serializeError(e, seen) : e));
  for (const key in err) {
    if (out[key] !== undefined) continue;
    const val = (err as unknown as Record<string, unknown>)[key];
    if (isErrorLike(val)) {
      // a cause is in message and stack already
      if (key !== 'cause' && !seen.has(val)) out[key] = serializeError(val, seen);
    } else {
      out[key] = val;
    }
  }
  return out;
}

/**
 * the error's text, then each cause's after `sep`; a cycle of causes ends in
 * `circular` after the error met again (as pino-std-serializers writes it)
 */
function causeChain(err: ErrorLike, text: (e: ErrorLike) => string, sep: string, circular: string): string {
  const visited = new Set<object>();
  let out = '';
  let e: ErrorLike = err;
  for (;;) {
    out += text(e);
    if (visited.has(e)) return out + circular;
    const cause = typeof e.cause === 'function' ? safeCall(e.cause as () => unknown, e) : e.cause;
    if (!isErrorLike(cause)) return out;
    visited.add(e);
    out += sep;
    e = cause;
  }
}

function safeCall(f: () => unknown, self: unknown): unknown {
  try {
    return f.call(self);
  } catch {
    return undefined;
  }
}

function reason(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unknown';
  }
}

let pause: Int32Array | undefined;

/** a synchronous sleep: the log call returns only once its line is written */
function sleepMs(ms: number): void {
  pause ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(pause, 0, 0, ms);
}

/** Writes the whole line; on EAGAIN (a full non-blocking pipe) waits 1, 2, 4 … 50 ms and writes the rest. */
function writeLine(fd: number, line: string): void {
  let buf: Buffer | undefined;
  let off = 0;
  let waitMs = 1;
  for (;;) {
    try {
      if (buf === undefined) {
        const n = writeSync(fd, line);
        if (n === Buffer.byteLength(line)) return;
        buf = Buffer.from(line);
        off = n;
      } else {
        off += writeSync(fd, buf, off, buf.length - off);
      }
      if (off >= buf.length) return;
      waitMs = 1;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') return; // EPIPE, EBADF: nobody to write to
      sleepMs(waitMs);
      waitMs = Math.min(waitMs * 2, 50);
    }
  }
}
