/**
 * The rules document: read at start, replaced by admins through the API.
 *
 * Where it lives: `rules.file` (GW_RULES_FILE) when configured — it must
 * exist; otherwise `<dataDir>/rules.yaml` when an admin has saved rules
 * through the API before; otherwise the built-in defaults (GB/T 12325,
 * 15543, 15945; State Grid). A change through the API is written back to
 * that same file (atomically: temp file + rename), so it survives a
 * restart. The write-back edits the file's YAML document in place (the
 * `yaml` package's Document API): comments, key order and formatting of
 * everything that did not change survive; a rule is matched by its `id`, so
 * the comments around it move with it.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Document, isMap, isScalar, isSeq, parse as parseYaml, parseDocument, type Node } from 'yaml';
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
  let text: string | null = null;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    // no file yet (rules saved to the data directory the first time)
  }
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, updateRulesYaml(text, doc), 'utf8');
  await rename(tmp, file);
}

/**
 * The YAML text of `doc`, written as an edit of `text` (the file as it is)
 * so its comments and order survive; a fresh document when there is no text
 * or it does not parse.
 */
export function updateRulesYaml(text: string | null, doc: JsonObject): string {
  const parsed = text === null ? null : parseDocument(text);
  if (parsed === null || parsed.errors.length > 0 || !isMap(parsed.contents)) {
    const fresh = new Document(doc);
    fresh.commentBefore = ' written by gridwatch on a rules change through the API';
    return fresh.toString();
  }
  parsed.contents = patchNode(parsed, parsed.contents, doc) as typeof parsed.contents;
  return parsed.toString();
}

type JsonValue = JsonObject[string];

/** `node` changed to hold `value`, keeping every part (and its comments) that already did. */
function patchNode(doc: Document, node: unknown, value: JsonValue): Node {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && isMap(node)) {
    const keyOf = (k: unknown) => String(isScalar(k) ? k.value : k);
    for (const pair of [...node.items]) if (!Object.hasOwn(value, keyOf(pair.key))) node.delete(pair.key);
    for (const [k, v] of Object.entries(value)) {
      const pair = node.items.find((p) => keyOf(p.key) === k);
      if (pair) pair.value = patchNode(doc, pair.value, v);
      else node.set(doc.createNode(k), doc.createNode(v));
    }
    return node;
  }
  if (Array.isArray(value) && isSeq(node)) {
    // rules are matched by id, so a rule's comments stay with it when others are added or removed
    const idOf = (x: unknown) => (isMap(x) ? x.get('id') : undefined);
    const byId = new Map(node.items.filter((n) => typeof idOf(n) === 'string').map((n) => [idOf(n) as string, n]));
    const valueId = (v: JsonValue) => (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.id === 'string' ? v.id : undefined);
    node.items = value.map((v, i) => {
      const id = valueId(v);
      const old = id !== undefined ? byId.get(id) : byId.size === 0 ? node.items[i] : undefined;
      return old !== undefined ? patchNode(doc, old, v) : doc.createNode(v);
    });
    return node;
  }
  if (isScalar(node) && node.value === value) return node;
  const fresh = doc.createNode(value);
  const old = node as { comment?: string | null; commentBefore?: string | null; spaceBefore?: boolean } | null;
  if (old && typeof old === 'object') {
    if (old.comment) fresh.comment = old.comment;
    if (old.commentBefore) fresh.commentBefore = old.commentBefore;
    if (old.spaceBefore) fresh.spaceBefore = old.spaceBefore;
  }
  return fresh;
}
