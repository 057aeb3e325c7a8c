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
import { isSpoolDeviceId, type DevicePlace } from '../../contract/index.ts';
import { DEFAULT_RULES } from './defaults.ts';
import { RulesError } from './errors.ts';
import { RULE_KINDS, isSiteKind, kindOf, type Rule, type RuleKind } from './registry.ts';
import type { Scope, ScopeFilter } from './kinds/fields.ts';

// ---------------------------------------------------------------- kinds

// Each kind's schema lives with its evaluation in kinds/<kind>.ts; registry.ts lists them.
export {
  SEVERITIES,
  SEVERITY_NAMES,
  severityName,
  RULE_ID_PATTERN,
  type Severity,
  type SeverityName,
  type Scope,
  type ScopeFilter,
} from './kinds/fields.ts';
export { ThresholdRuleSchema, type ThresholdRule, type ThresholdLevelName } from './kinds/threshold.ts';
export { RateOfChangeRuleSchema, type RateOfChangeRule } from './kinds/rate-of-change.ts';
export { StaleRuleSchema, type StaleRule } from './kinds/stale.ts';
export { UnbalanceRuleSchema, type UnbalanceRule } from './kinds/unbalance.ts';
export { AnomalyRuleSchema, type AnomalyRule } from './kinds/anomaly.ts';
export { OutageRuleSchema, type OutageRule } from './kinds/outage.ts';
export { CallRuleSchema, type CallRule } from './kinds/call.ts';
export { RULE_KINDS, type Rule, type RuleKind };

/** Checks a zod schema cannot express per field (the kind's `check`). */
function semanticIssues(rule: Rule): { path: (string | number)[]; message: string }[] {
  return kindOf(rule.kind)?.check?.(rule) ?? [];
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
    const k = typeof kind === 'string' ? kindOf(kind) : undefined;
    if (k === undefined) {
      errors.push(issue(['kind'], `expected one of ${RULE_KINDS.join(', ')}`));
      continue;
    }
    const r = k.schema.safeParse(e.raw);
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
  return rules.filter((r) => r.enabled && !isSiteKind(r.kind) && !(spool && r.kind === 'stale') && ruleCovers(r, device, place));
}
