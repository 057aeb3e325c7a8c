/**
 * The rules document: read at start, replaced by admins through the API.
 *
 * Where it lives: `rules.file` (GW_RULES_FILE) when configured — it must
 * exist; otherwise `<dataDir>/rules.yaml` when an admin has saved rules
 * through the API before; otherwise the built-in defaults (GB/T 12325,
 * 15543, 15945; State Grid). A change through the API is written back to
 * that same file (atomically: temp file + rename), so it survives a
 * restart. Writing it back drops the file's comments.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { parseRules, RulesError, type JsonObject, type RuleIssue, type RuleSet } from '../rules/index.ts';

export interface RulesDocument {
  /** the document as written (YAML data): what GET returns and PUT replaces */
  document: JsonObject;
  /** validated, merged with the defaults, frozen */
  rules: RuleSet;
  /** where it came from: a file path, or 'defaults' */
  origin: string;
}

export const DEFAULT_DOCUMENT: JsonObject = { version: 1, useDefaults: true, rules: [] };

export type ValidatedDocument = { ok: true; rules: RuleSet } | { ok: false; errors: RuleIssue[] };

export function validateDocument(doc: unknown): ValidatedDocument {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { ok: false, errors: [{ path: '(root)', message: 'expected an object with version, useDefaults, rules' }] };
  return parseRules(doc);
}

/** The file API changes are written to. */
export function rulesPath(configured: string | undefined, dataDir: string): string {
  return configured ?? path.join(dataDir, 'rules.yaml');
}

export async function loadRulesDocument(configured: string | undefined, dataDir: string): Promise<RulesDocument> {
  const file = rulesPath(configured, dataDir);
  if (configured === undefined && !existsSync(file)) {
    const r = validateDocument(DEFAULT_DOCUMENT);
    if (!r.ok) throw new RulesError('GW_ERR_RULES_INVALID', 'built-in rules invalid', r.errors.map((e) => `${e.path}: ${e.message}`));
    return { document: structuredClone(DEFAULT_DOCUMENT), rules: r.rules, origin: 'defaults' };
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new RulesError('GW_ERR_RULES_INVALID', `rules file ${file}: ${(e as Error).message}`, [`${file}: ${(e as Error).message}`], { cause: e });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (e) {
    throw new RulesError('GW_ERR_RULES_INVALID', `invalid ${file}: YAML: ${(e as Error).message}`, [`YAML: ${(e as Error).message}`], { cause: e });
  }
  const r = validateDocument(doc);
  if (!r.ok) {
    const issues = r.errors.map((i) => `${i.path}: ${i.message}`);
    throw new RulesError('GW_ERR_RULES_INVALID', `invalid ${file}:\n  - ${issues.join('\n  - ')}`, issues);
  }
  return { document: doc as JsonObject, rules: r.rules, origin: file };
}

export async function saveRulesDocument(file: string, doc: JsonObject): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `# written by gridwatch on a rules change through the API\n${toYaml(doc)}`, 'utf8');
  await rename(tmp, file);
}
