/**
 * The rules file: schema, defaults and validation (docs/alarms.md, The rules file).
 *
 * One zod schema per rule kind, strict objects (unknown keys rejected),
 * defaults in the schema, the TypeScript types derived from it. Errors are
 * located by rule id — `rule "u-high" (rules[3]).levels.hi.value: expected
 * number` — and every error is reported at once: each rule is validated on
 * its own, so one broken rule never hides the issues of another.
 *
 * Pure: no I/O. `rulesFromYaml` parses text that the caller has read.
 */
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { QUANTITY_NAMES, isSpoolDeviceId, type DevicePlace, type Quantity } from '../../contract/index.ts';
import { DEFAULT_RULES } from './defaults.ts';
import { RulesError } from './errors.ts';

// ---------------------------------------------------------------- severity

/**
 * Four severities, ISA-18.2 "priority": 1 is the most urgent. A rules file may
 * write the number or the name; the parsed rule always holds the number, so
 * "more severe" is "smaller".
 */
export const SEVERITIES = [1, 2, 3, 4] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SEVERITY_NAMES = ['critical', 'high', 'medium', 'low'] as const;
export type SeverityName = (typeof SEVERITY_NAMES)[number];

export function severityName(s: Severity): SeverityName {
  return SEVERITY_NAMES[s - 1]!;
}

const severity = z
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
const quantity = z.enum(QUANTITY_NAMES as [Quantity, ...Quantity[]], { error: 'expected a canonical quantity (contract/quantities.ts)' });

/** One value or a non-empty list of them; always a list once parsed (a bad single value is reported at `[0]`). */
function oneOrMany<T extends z.ZodType>(item: T) {
  return z.preprocess((x) => (Array.isArray(x) || x === undefined ? x : [x]), z.array(item).min(1));
}

const seconds = z.number().nonnegative();
const positiveSeconds = z.number().positive();

/**
 * Where a rule applies. `all`, or a filter over the topology: every key given
 * must match (AND), a key with several values matches any of them (OR). Room,
 * transformer and line ids are unique only within a site; add `site` to
 * disambiguate. A device that is not in the topology matches only `all` or
 * an explicit `device` list.
 */
const ScopeFilterSchema = z.strictObject({
  site: oneOrMany(topoId).optional(),
  room: oneOrMany(topoId).optional(),
  transformer: oneOrMany(topoId).optional(),
  line: oneOrMany(topoId).optional(),
  device: oneOrMany(deviceId).optional(),
  role: oneOrMany(z.enum(['transformer', 'line', 'sensor'])).optional(),
});
const ScopeSchema = z.union([z.literal('all'), ScopeFilterSchema], {
  error: 'expected "all" or an object of site / room / transformer / line / device / role',
});
export type ScopeFilter = z.output<typeof ScopeFilterSchema>;
export type Scope = z.output<typeof ScopeSchema>;

const common = {
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
const delays = {
  onDelayS: seconds.default(0),
  offDelayS: seconds.default(0),
  holdS: positiveSeconds.default(300),
};

// ---------------------------------------------------------------- kinds

function levelSchema(defaultSeverity: Severity) {
  return z.strictObject({ value: z.number(), severity: severity.default(defaultSeverity) });
}

/**
 * Fixed limits. hi/hihi fire when the value is strictly above, lo/lolo when
 * strictly below. `deadband` (in the quantity's unit) is the hysteresis: an
 * active level is left only when the value is back inside by more than the
 * deadband. With several quantities (e.g. the three phase voltages) the
 * worst one counts: the largest against hi levels, the smallest against lo
 * levels. `mean1m` evaluates the mean of each clock-aligned minute (GB/T
 * 12325: supply voltage deviation is a statistical value over 1-min means;
 * IEC 61000-4-30 aligns aggregation intervals to absolute time).
 */
export const ThresholdRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('threshold'),
  quantity: oneOrMany(quantity),
  levels: z.strictObject({
    hihi: levelSchema(2).optional(),
    hi: levelSchema(3).optional(),
    lo: levelSchema(3).optional(),
    lolo: levelSchema(2).optional(),
  }),
  deadband: z.number().nonnegative().default(0),
  evaluate: z.enum(['instant', 'mean1m']).default('instant'),
  ...delays,
});

/**
 * Change over a sliding window: the current value against the smallest
 * (rise) or largest (fall) value of the last `windowS` seconds. With both
 * `pct` and `abs` given, both must be exceeded (a 200 % jump from 1 A is not
 * news); `pct` is relative to that earlier value.
 */
export const RateOfChangeRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('rate_of_change'),
  quantity,
  windowS: positiveSeconds.default(60),
  change: z.strictObject({ pct: z.number().positive().optional(), abs: z.number().positive().optional() }),
  direction: z.enum(['rise', 'fall', 'both']).default('both'),
  severity: severity.default(3),
  ...delays,
});

/**
 * No good reading for `afterS` seconds, or, without `afterS`, for
 * `intervals` × `pollIntervalS`. Measured on the server's clock (`now`), not
 * the reading's timestamp: a dead meter is about what the server has
 * received. A restart of the evaluator does not count as silence.
 */
export const StaleRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('stale'),
  afterS: positiveSeconds.optional(),
  intervals: z.number().int().positive().default(10),
  pollIntervalS: positiveSeconds.default(1),
  severity: severity.default(3),
});

/**
 * Voltage or current unbalance (GB/T 15543): `normal` limit on the mean of
 * clock-aligned `meanS` intervals (the standard's 10-min values), `shortTime`
 * limit on each sample (the standard's short-time values). `shortTime` is
 * the more severe level.
 */
export const UnbalanceRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('unbalance'),
  quantity: z.enum(['u_unbalance', 'i_unbalance']).default('u_unbalance'),
  normal: z
    .strictObject({ limitPct: z.number().positive().default(2), meanS: positiveSeconds.default(600), severity: severity.default(4) })
    .prefault({}),
  shortTime: z.strictObject({ limitPct: z.number().positive().default(4), severity: severity.default(3) }).prefault({}),
  deadband: z.number().nonnegative().default(0.2),
  ...delays,
});

/**
 * Statistical anomaly: a baseline (EWMA mean and variance) per series and
 * time-of-day bucket; fires when |z| exceeds `zLimit`. The baseline's memory
 * is `memoryDays` days of that bucket's time (rate-independent: a sample
 * weighs by the time it represents). A bucket may fire only after it has
 * seen `minDays` distinct days and `minSamples` samples. Samples beyond the
 * limit update the baseline clipped to mean ± zLimit·σ, so a fault is not
 * learned as normal at once. `minStd` (quantity's unit) keeps a nearly
 * constant series from firing on rounding noise.
 */
export const AnomalyRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('anomaly'),
  quantity,
  bucketMinutes: z
    .number()
    .int()
    .positive()
    .refine((m) => 1440 % m === 0, 'must divide a day (1440 minutes)')
    .default(60),
  /** local time of the buckets: China Standard Time by default */
  utcOffsetMin: z.number().int().min(-720).max(840).default(480),
  memoryDays: z.number().positive().default(7),
  zLimit: z.number().positive().default(5),
  zDeadband: z.number().nonnegative().default(1),
  direction: z.enum(['high', 'low', 'both']).default('both'),
  minDays: z.number().int().nonnegative().default(3),
  minSamples: z.number().int().nonnegative().default(30),
  minStd: z.number().nonnegative().default(0),
  severity: severity.default(4),
  ...delays,
});

/**
 * Loss of all phase voltages of a meter (the largest phase below
 * `darkBelowV`; back when above `darkBelowV + deadband`). Per device, the
 * engine only tracks "dark"; `correlateOutages` turns the device states and
 * the topology into alarms: every meter under a transformer dark = one alarm
 * on the transformer. `commLossIsDark`: count a meter the agent cannot reach
 * as dark (for meters powered from the circuit they measure).
 * `minDarkShare`: the share of a transformer's meters that must be dark (and
 * none live) for a transformer outage.
 */
export const OutageRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('outage'),
  phases: oneOrMany(quantity).default(['ua', 'ub', 'uc']),
  darkBelowV: z.number().positive().default(22),
  deadband: z.number().nonnegative().default(10),
  commLossIsDark: z.boolean().default(false),
  minDarkShare: z.number().positive().max(1).default(1),
  /**
   * After supply returns, a meter's other alarms stay suppressed this long:
   * its voltage alarms need a 1-min mean and their off-delay to clear, and
   * should not annunciate as if they were news.
   */
  releaseS: seconds.default(600),
  severity: severity.default(1),
  ...delays,
});

/**
 * The one-key call from a site (一键呼叫, `gridwatch/v1/{site}/call`): raised
 * on each call, its condition stays active for `activeS` after the last
 * press, and the alarm waits for an operator's acknowledgement either way.
 */
export const CallRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('call'),
  severity: severity.default(1),
  activeS: positiveSeconds.default(300),
});

const KIND_SCHEMAS = {
  threshold: ThresholdRuleSchema,
  rate_of_change: RateOfChangeRuleSchema,
  stale: StaleRuleSchema,
  unbalance: UnbalanceRuleSchema,
  anomaly: AnomalyRuleSchema,
  outage: OutageRuleSchema,
  call: CallRuleSchema,
} as const;
export type RuleKind = keyof typeof KIND_SCHEMAS;
export const RULE_KINDS = Object.keys(KIND_SCHEMAS) as RuleKind[];

export type ThresholdRule = z.output<typeof ThresholdRuleSchema>;
export type RateOfChangeRule = z.output<typeof RateOfChangeRuleSchema>;
export type StaleRule = z.output<typeof StaleRuleSchema>;
export type UnbalanceRule = z.output<typeof UnbalanceRuleSchema>;
export type AnomalyRule = z.output<typeof AnomalyRuleSchema>;
export type OutageRule = z.output<typeof OutageRuleSchema>;
export type CallRule = z.output<typeof CallRuleSchema>;
export type Rule = ThresholdRule | RateOfChangeRule | StaleRule | UnbalanceRule | AnomalyRule | OutageRule | CallRule;
export type ThresholdLevelName = keyof ThresholdRule['levels'];

/** Checks a zod schema cannot express per field. */
function semanticIssues(rule: Rule): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  switch (rule.kind) {
    case 'threshold': {
      const { hihi, hi, lo, lolo } = rule.levels;
      if (!hihi && !hi && !lo && !lolo) out.push({ path: ['levels'], message: 'at least one of hihi, hi, lo, lolo is required' });
      const order: [ThresholdLevelName, number | undefined][] = [
        ['lolo', lolo?.value],
        ['lo', lo?.value],
        ['hi', hi?.value],
        ['hihi', hihi?.value],
      ];
      const given = order.filter((x): x is [ThresholdLevelName, number] => x[1] !== undefined);
      for (let i = 1; i < given.length; i++) {
        const [pn, pv] = given[i - 1]!;
        const [n, v] = given[i]!;
        if (!(pv < v)) out.push({ path: ['levels', n, 'value'], message: `must be greater than ${pn} (${pv}); levels are ordered lolo < lo < hi < hihi` });
      }
      if (lo && hi && rule.deadband * 2 >= hi.value - lo.value)
        out.push({ path: ['deadband'], message: `deadband ${rule.deadband} must be less than half the lo..hi band (${lo.value}..${hi.value})` });
      break;
    }
    case 'rate_of_change':
      if (rule.change.pct === undefined && rule.change.abs === undefined)
        out.push({ path: ['change'], message: 'at least one of pct, abs is required' });
      break;
    case 'unbalance':
      if (!(rule.normal.limitPct < rule.shortTime.limitPct))
        out.push({ path: ['shortTime', 'limitPct'], message: `must be greater than normal.limitPct (${rule.normal.limitPct})` });
      break;
    case 'anomaly':
      if (rule.zDeadband >= rule.zLimit) out.push({ path: ['zDeadband'], message: `must be less than zLimit (${rule.zLimit})` });
      break;
    case 'stale':
    case 'outage':
    case 'call':
      break;
    default: {
      const never: never = rule;
      throw new Error(`unhandled rule kind ${(never as Rule).kind}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- the file

/**
 * The rules file. `useDefaults` (default true) starts from DEFAULT_RULES
 * (GB/T and State Grid defaults, see defaults.ts); a rule in `rules` whose id
 * is a default's id is deep-merged onto that default (objects merge, lists
 * and scalars replace), so every number can be overridden with a few keys,
 * and `enabled: false` switches a default off. Rules with new ids are added.
 */
const FileSchema = z.strictObject({
  version: z.literal(1).default(1),
  useDefaults: z.boolean().default(true),
  rules: z.array(z.unknown()).default([]),
});

/** A validated rule set: frozen, in file order (defaults first). */
export type RuleSet = readonly Readonly<Rule>[];

export interface RuleIssue {
  /** the rule's id when it has a usable one */
  ruleId?: string;
  /** `rule "u-high" (rules[3]).levels.hi.value` or a top-level path */
  path: string;
  message: string;
}

export type RulesResult = { ok: true; rules: RuleSet } | { ok: false; errors: RuleIssue[] };

export function formatIssue(i: RuleIssue): string {
  return `${i.path}: ${i.message}`;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Objects merge key by key; anything else in `patch` replaces. */
export function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
}

function tidy(message: string): string {
  return message.replace(/^Invalid input: /, '');
}

function joinPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : `.${String(k)}`;
  return out;
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

/**
 * Validates a parsed rules document (the YAML's data). Never throws; every
 * issue of every rule is returned at once.
 */
export function parseRules(doc: unknown): RulesResult {
  const errors: RuleIssue[] = [];
  const file = FileSchema.safeParse(doc ?? {});
  if (!file.success) {
    for (const i of file.error.issues) errors.push({ path: joinPath('', i.path).replace(/^\./, '') || '(root)', message: tidy(i.message) });
    return { ok: false, errors };
  }
  const { useDefaults, rules: userRules } = file.data;

  // merge: defaults first, in their order; user rules patch by id or are appended
  interface Entry { raw: unknown; label: string; id?: string }
  const entries: Entry[] = useDefaults ? DEFAULT_RULES.map((r) => ({ raw: r, label: 'defaults', id: r.id })) : [];
  const byId = new Map<string, { entry: Entry; firstAt: string }>();
  for (const e of entries) if (e.id) byId.set(e.id, { entry: e, firstAt: 'defaults' });
  userRules.forEach((raw, i) => {
    const id = isPlainObject(raw) && typeof raw.id === 'string' ? raw.id : undefined;
    const label = `rules[${i}]`;
    const prev = id === undefined ? undefined : byId.get(id);
    if (prev && prev.firstAt === 'defaults') {
      prev.entry.raw = deepMerge(prev.entry.raw, raw);
      prev.entry.label = `${label}, merged onto the default`;
      prev.firstAt = label;
      return;
    }
    if (prev) {
      errors.push({ ruleId: id, path: `rule "${id}" (${label}).id`, message: `duplicate rule id (first at ${prev.firstAt})` });
      return;
    }
    const entry: Entry = { raw, label };
    if (id !== undefined) {
      entry.id = id;
      byId.set(id, { entry, firstAt: label });
    }
    entries.push(entry);
  });

  const out: Rule[] = [];
  for (const e of entries) {
    const where = e.id !== undefined ? `rule "${e.id}" (${e.label})` : `rule (${e.label})`;
    const issue = (path: readonly PropertyKey[], message: string): RuleIssue => {
      const r: RuleIssue = { path: joinPath(where, path), message };
      if (e.id !== undefined) r.ruleId = e.id;
      return r;
    };
    if (!isPlainObject(e.raw)) {
      errors.push(issue([], 'expected an object'));
      continue;
    }
    const kind = e.raw.kind;
    if (typeof kind !== 'string' || !(kind in KIND_SCHEMAS)) {
      errors.push(issue(['kind'], `expected one of ${RULE_KINDS.join(', ')}`));
      continue;
    }
    const r = KIND_SCHEMAS[kind as RuleKind].safeParse(e.raw);
    if (!r.success) {
      for (const i of r.error.issues) errors.push(issue(i.path, tidy(i.message)));
      continue;
    }
    const rule = r.data as Rule;
    const sem = semanticIssues(rule);
    for (const s of sem) errors.push(issue(s.path, s.message));
    if (sem.length === 0) out.push(rule);
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, rules: deepFreeze(out) };
}

/** Parses and validates a rules YAML text; throws RulesError listing every issue. */
export function rulesFromYaml(text: string, source = 'rules'): RuleSet {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new RulesError('GW_ERR_RULES_INVALID', `invalid ${source}: YAML: ${(e as Error).message}`, [`YAML: ${(e as Error).message}`], { cause: e });
  }
  const r = parseRules(doc);
  if (!r.ok) {
    const issues = r.errors.map(formatIssue);
    throw new RulesError('GW_ERR_RULES_INVALID', `invalid ${source}:\n  - ${issues.join('\n  - ')}`, issues);
  }
  return r.rules;
}

// ---------------------------------------------------------------- scope

function hit(list: readonly string[] | undefined, value: string): boolean {
  return list === undefined || list.includes(value);
}

/**
 * Whether a rule applies to a device. `place` is the device's place in the
 * topology (undefined for a device the topology does not know).
 */
export function scopeMatches(scope: Scope, device: string, place: DevicePlace | undefined): boolean {
  if (scope === 'all') return true;
  if (!place) {
    // only an explicit device list can speak about a device outside the topology
    const onlyDevice = Object.keys(scope).every((k) => k === 'device');
    return onlyDevice && scope.device !== undefined && scope.device.includes(device);
  }
  return (
    hit(scope.site, place.site) &&
    hit(scope.room, place.room) &&
    hit(scope.transformer, place.transformer) &&
    hit(scope.line, place.line) &&
    hit(scope.device, device) &&
    hit(scope.role, place.role)
  );
}

/** Whether a rule covers a device: inside its scope and not left out by its `except`. */
export function ruleCovers(rule: { scope: Scope; except?: ScopeFilter | null | undefined }, device: string, place: DevicePlace | undefined): boolean {
  return scopeMatches(rule.scope, device, place) && (rule.except == null || !scopeMatches(rule.except, device, place));
}

/** Whether a site-level rule (the one-key call) applies to a site: only the `site` key counts. */
export function scopeMatchesSite(scope: Scope, site: string): boolean {
  return scope === 'all' || hit(scope.site, site);
}

/**
 * The enabled rules that apply to a device. An agent's spool pseudo-device
 * (`<agent>.spool`, outside the topology) is no meter: it reports at start,
 * on change and periodically, so the stale rule does not watch it.
 */
export function rulesForDevice(rules: RuleSet, device: string, place: DevicePlace | undefined): Readonly<Rule>[] {
  const spool = place === undefined && isSpoolDeviceId(device);
  return rules.filter((r) => r.enabled && r.kind !== 'call' && !(spool && r.kind === 'stale') && ruleCovers(r, device, place));
}
