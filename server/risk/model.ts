/**
 * The risk-model file: indicators, weights, normalisation, thresholds,
 * hysteresis and the daily computation time (docs/risk.md, The model file).
 *
 * Validated like the rules file: strict objects, every error at once, each
 * located by indicator id — `indicator "ack-time-mean" (indicators[3]).bad:
 * must be above good (a higher value is worse)`. `parseRiskModel` is pure;
 * `loadRiskModel` reads a file and throws a ConfigError listing every issue,
 * which stops the server at start (exit code 2) like an invalid config.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.ts';
import { INDICATORS, INDICATOR_IDS, RISK_DIMENSIONS, isIndicatorId, type IndicatorId, type RiskDimension, type RiskDirection } from './catalogue.ts';

/** |Σ weights − 1| allowed */
export const WEIGHT_TOLERANCE = 0.001;

const IndicatorSchema = z.strictObject({
  id: z.string(),
  /** defaults to the catalogue's dimension */
  dimension: z.enum(RISK_DIMENSIONS).optional(),
  weight: z.number().min(0).max(1),
  /** must agree with the catalogue when given (it documents the file) */
  direction: z.enum(['higher-is-worse', 'lower-is-worse']).optional(),
  /** value at or better than which the indicator scores 0 */
  good: z.number(),
  /** value at or worse than which the indicator scores 100 */
  bad: z.number(),
});

const FileSchema = z.strictObject({
  version: z.literal(1).default(1),
  /** local time of the daily computation, HH:MM */
  computeAt: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (00:00–23:59)').default('06:00'),
  /** UTC offset of the stations' local day, ±HH:MM */
  timezone: z.string().regex(/^[+-](0\d|1[0-4]):[0-5]\d$/, 'expected a UTC offset ±HH:MM').default('+08:00'),
  thresholds: z.strictObject({
    /** score at or above which a station is yellow */
    yellow: z.number(),
    /** score at or above which a station is red */
    red: z.number(),
  }),
  hysteresis: z.strictObject({
    /** a station leaves a code only when its score is this far below the code's threshold */
    margin: z.number().default(5),
    /** consecutive days a higher code must hold before the station takes it */
    enterDays: z.number().int().min(1).max(31).default(1),
    /** consecutive days a lower code must hold before the station takes it */
    leaveDays: z.number().int().min(1).max(31).default(3),
  }).prefault({}),
  /** a provisional run of today every this many minutes (fractions allowed, at least 0.01); absent or 0 → none */
  provisionalEveryMinutes: z.number().min(0).max(1440).refine((v) => v === 0 || v >= 0.01, 'must be 0 (none) or at least 0.01 minutes').default(0),
  /** days of data each indicator covers, ending with the computed day */
  windowDays: z.number().int().min(1).max(92).default(30),
  /** least share of the weight with data for a station to get a code at all */
  minCoverage: z.number().gt(0).max(1).default(0.5),
  indicators: z.array(z.unknown()).min(1, 'at least one indicator'),
});

export interface RiskIndicator {
  id: IndicatorId;
  dimension: RiskDimension;
  direction: RiskDirection;
  weight: number;
  good: number;
  bad: number;
  /** the catalogue's: false → always "no data" */
  available: boolean;
}

export interface RiskModel {
  computeAt: string;
  timezone: string;
  /** minutes between provisional runs of today; 0 → none */
  provisionalEveryMinutes: number;
  windowDays: number;
  thresholds: { yellow: number; red: number };
  hysteresis: { margin: number; enterDays: number; leaveDays: number };
  minCoverage: number;
  /** in file order */
  indicators: readonly RiskIndicator[];
}

export interface RiskModelIssue {
  /** the indicator's id when the issue is about one */
  indicatorId?: string;
  path: string;
  message: string;
}

export type RiskModelResult = { ok: true; model: RiskModel } | { ok: false; errors: RiskModelIssue[] };

export function formatRiskIssue(i: RiskModelIssue): string {
  return `${i.path}: ${i.message}`;
}

function joinPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : `.${String(k)}`;
  return out;
}

const tidy = (m: string) => m.replace(/^Invalid input: /, '');

function indicatorLabel(raw: unknown, i: number): { label: string; id?: string } {
  const id = typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined;
  return id !== undefined ? { label: `indicator "${id}" (indicators[${i}])`, id } : { label: `indicators[${i}]` };
}

/** Validates a parsed model document. Never throws; every issue is returned. */
export function parseRiskModel(doc: unknown): RiskModelResult {
  const errors: RiskModelIssue[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { ok: false, errors: [{ path: '(root)', message: 'expected a mapping with thresholds and indicators' }] };
  const file = FileSchema.safeParse(doc);
  if (!file.success) {
    for (const i of file.error.issues) errors.push({ path: joinPath('', i.path).replace(/^\./, '') || '(root)', message: tidy(i.message) });
  }
  const rawIndicators = Array.isArray((doc as { indicators?: unknown }).indicators) ? ((doc as { indicators: unknown[] }).indicators) : [];
  const indicators: RiskIndicator[] = [];
  const seen = new Map<string, number>();
  rawIndicators.forEach((raw, i) => {
    const { label, id } = indicatorLabel(raw, i);
    const at = (path: readonly PropertyKey[], message: string) => errors.push({ ...(id !== undefined ? { indicatorId: id } : {}), path: joinPath(label, path), message });
    const r = IndicatorSchema.safeParse(raw);
    if (!r.success) {
      for (const issue of r.error.issues) at(issue.path, tidy(issue.message));
    }
    if (id !== undefined && !isIndicatorId(id)) {
      at([], `unknown indicator; known: ${INDICATOR_IDS.join(', ')}`);
      return;
    }
    if (id !== undefined) {
      const first = seen.get(id);
      if (first !== undefined) at([], `duplicate of indicators[${first}]`);
      else seen.set(id, i);
    }
    if (!r.success || !isIndicatorId(r.data.id)) return;
    const ind = r.data;
    const info = INDICATORS[ind.id as IndicatorId];
    const direction = info.direction;
    let bad = false;
    if (ind.direction !== undefined && ind.direction !== direction) {
      at(['direction'], `must be ${direction} for this indicator`);
      bad = true;
    }
    if (direction === 'higher-is-worse' && !(ind.bad > ind.good)) {
      at(['bad'], `must be above good (${ind.good}): a higher value is worse`);
      bad = true;
    }
    if (direction === 'lower-is-worse' && !(ind.bad < ind.good)) {
      at(['bad'], `must be below good (${ind.good}): a lower value is worse`);
      bad = true;
    }
    if (info.unit !== '%' && (ind.good < 0 || ind.bad < 0)) {
      at([ind.good < 0 ? 'good' : 'bad'], 'must not be negative (a count, rate or time)');
      bad = true;
    }
    if (info.unit === '%' && [ind.good, ind.bad].some((v) => v < 0 || v > 100)) {
      at([ind.good < 0 || ind.good > 100 ? 'good' : 'bad'], 'must be a percentage, 0–100');
      bad = true;
    }
    if (!bad) indicators.push({ id: ind.id as IndicatorId, dimension: ind.dimension ?? info.dimension, direction, weight: ind.weight, good: ind.good, bad: ind.bad, available: info.available });
  });
  // the sum is checked over every indicator whose weight parsed, so one bad bound does not also report a sum error
  const weighted = rawIndicators
    .map((raw, i) => ({ ...indicatorLabel(raw, i), w: (raw as { weight?: unknown } | null)?.weight }))
    .filter((x): x is { label: string; id?: string; w: number } => typeof x.w === 'number' && Number.isFinite(x.w));
  if (weighted.length > 0 && weighted.length === rawIndicators.length) {
    const sum = weighted.reduce((s, x) => s + x.w, 0);
    if (Math.abs(sum - 1) > WEIGHT_TOLERANCE) {
      const parts = weighted.map((x) => `${x.id ?? x.label} ${x.w}`).join(', ');
      errors.push({ path: 'indicators', message: `weights sum to ${round(sum, 4)}, expected 1 (± ${WEIGHT_TOLERANCE}): ${parts}` });
    }
  }
  if (file.success) {
    const { yellow, red } = file.data.thresholds;
    if (yellow < 0 || yellow > 100) errors.push({ path: 'thresholds.yellow', message: 'must be a score, 0–100' });
    if (red < 0 || red > 100) errors.push({ path: 'thresholds.red', message: 'must be a score, 0–100' });
    if (!(red > yellow)) errors.push({ path: 'thresholds', message: `red (${red}) must be above yellow (${yellow})` });
    const { margin } = file.data.hysteresis;
    const thresholdsOk = yellow >= 0 && red <= 100 && red > yellow;
    if (margin < 0) errors.push({ path: 'hysteresis.margin', message: 'must not be negative' });
    else if (thresholdsOk && margin >= Math.min(yellow, red - yellow)) errors.push({ path: 'hysteresis.margin', message: `must be below yellow (${yellow}) and below red − yellow (${red - yellow})` });
  }
  if (errors.length > 0 || !file.success) return { ok: false, errors };
  const f = file.data;
  return {
    ok: true,
    model: deepFreeze({ computeAt: f.computeAt, timezone: f.timezone, provisionalEveryMinutes: f.provisionalEveryMinutes, windowDays: f.windowDays, thresholds: f.thresholds, hysteresis: f.hysteresis, minCoverage: f.minCoverage, indicators }),
  };
}

export function riskModelFromYaml(text: string, where = 'risk model'): RiskModel {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(where, [`YAML: ${(e as Error).message}`]);
  }
  const r = parseRiskModel(doc);
  if (!r.ok) throw new ConfigError(where, r.errors.map(formatRiskIssue));
  return r.model;
}

/** Reads and validates a model file; a ConfigError lists every issue (the server refuses to start). */
export async function loadRiskModel(file: string): Promise<RiskModel> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`risk model ${file}`, [(e as Error).message]);
  }
  return riskModelFromYaml(text, `risk model ${file}`);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}
