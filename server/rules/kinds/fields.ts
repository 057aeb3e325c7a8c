/**
 * The pieces every rule kind's schema is built from: severities, ids,
 * quantities, scope, the keys common to all rules and the delays of the
 * sampled kinds. schema.ts re-exports what other folders use.
 */
import { z } from 'zod';
import { QUANTITY_NAMES, SEVERITIES, SEVERITY_NAMES, type Quantity, type Severity, type SeverityName } from '../../../contract/index.ts';

// ---------------------------------------------------------------- severity

/**
 * Four severities, ISA-18.2 "priority": 1 is the most urgent. A rules file may
 * write the number or the name; the parsed rule always holds the number, so
 * "more severe" is "smaller". Declared in contract/frames.ts (alarms carry them).
 */
export { SEVERITIES, SEVERITY_NAMES, type Severity, type SeverityName };

export function severityName(s: Severity): SeverityName {
  return SEVERITY_NAMES[s - 1]!;
}

export const severity = z
  .union([z.literal(SEVERITIES), z.enum(SEVERITY_NAMES)], {
    error: `expected a severity: 1..4 or ${SEVERITY_NAMES.join(' | ')}`,
  })
  .transform((s): Severity => (typeof s === 'number' ? s : ((SEVERITY_NAMES.indexOf(s) + 1) as Severity)));

// ---------------------------------------------------------------- building blocks

/** Rule ids become part of alarm ids (`ruleId:source`), so they may not contain ':'. */
export const RULE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ruleId = z.string().regex(RULE_ID_PATTERN, 'must be an id of letters, digits, _ . - (max 64, no ":")');
const topoId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be a topology id');
const deviceId = z.string().min(1).max(256);
export const quantity = z.enum(QUANTITY_NAMES as [Quantity, ...Quantity[]], { error: 'expected a canonical quantity (contract/quantities.ts)' });

/** One value or a non-empty list of them; always a list once parsed (a bad single value is reported at `[0]`). */
export function oneOrMany<T extends z.ZodType>(item: T) {
  return z.preprocess((x) => (Array.isArray(x) || x === undefined ? x : [x]), z.array(item).min(1));
}

export const seconds = z.number().nonnegative();
export const positiveSeconds = z.number().positive();

/**
 * Where a rule applies. `all`, or a filter over the topology: every key given
 * must match (AND), a key with several values matches any of them (OR). Room,
 * transformer and line ids are unique only within a site; add `site` to
 * disambiguate. A device that is not in the topology matches only `all` or
 * an explicit `device` list.
 */
export const ScopeFilterSchema = z.strictObject({
  site: oneOrMany(topoId).optional(),
  room: oneOrMany(topoId).optional(),
  transformer: oneOrMany(topoId).optional(),
  line: oneOrMany(topoId).optional(),
  device: oneOrMany(deviceId).optional(),
  role: oneOrMany(z.enum(['transformer', 'line', 'sensor'])).optional(),
});
export const ScopeSchema = z.union([z.literal('all'), ScopeFilterSchema], {
  error: 'expected "all" or an object of site / room / transformer / line / device / role',
});
export type ScopeFilter = z.output<typeof ScopeFilterSchema>;
export type Scope = z.output<typeof ScopeSchema>;

/** The keys every rule has. */
export const common = {
  id: ruleId,
  /** shown to operators */
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  scope: ScopeSchema.default('all'),
  /**
   * Devices the rule leaves out although its scope covers them, as a scope
   * filter (e.g. `{ role: sensor }`). A device outside the topology is left
   * out only by an explicit `device` list. `null` in a rules file removes a
   * default rule's `except`.
   */
  except: ScopeFilterSchema.nullable().optional(),
};

/**
 * On/off delays and the freshness window shared by the sampled kinds.
 * - `onDelayS`: the condition must hold continuously this long before the alarm is raised;
 * - `offDelayS`: it must be gone continuously this long before the alarm clears;
 * - `holdS`: how long a sample's value is assumed to persist. Two live samples
 *   further apart than this break continuity (a running on-delay starts
 *   again), and `tick` only lets a delay expire while the last sample is
 *   at most this old. Raise it for slowly polled meters.
 */
export const delays = {
  onDelayS: seconds.default(0),
  offDelayS: seconds.default(0),
  holdS: positiveSeconds.default(300),
};

export function levelSchema(defaultSeverity: Severity) {
  return z.strictObject({ value: z.number(), severity: severity.default(defaultSeverity) });
}

/** A problem a zod schema cannot express per field (levels out of order, …), at a path inside the rule. */
export interface SemanticIssue {
  path: (string | number)[];
  message: string;
}
