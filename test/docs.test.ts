/**
 * The documentation stays self-contained and true to the code:
 *  - no tracked file points outside the repository: to design notes that
 *    exist only on some machine (by their upper-case file names), to a
 *    sibling `shared` folder, or to an absolute work path;
 *  - every relative link in README.md and docs/*.md reaches a file that
 *    exists, and every `#anchor` a heading of that file;
 *  - docs/configuration.md names every environment variable the server
 *    reads, and docs/ every server error code.
 * Reads files only: no services, fast.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENV_MAP, ServerConfigSchema } from '../server/config.ts';
import { AgentConfigSchema } from '../edge-agent/config.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// spelled in pieces so that this file does not match itself
const NOTE_NAMES = ['DESIGN', 'METERS', 'CONVENTIONS', 'DOMAIN', 'SERVICES'].map((n) => `${n}.md`);
const FORBIDDEN: Array<{ what: string; re: RegExp }> = [
  ...NOTE_NAMES.map((name) => ({ what: name, re: new RegExp(`(?<!docs/)\\b${name.replace('.', '\\.')}`) })),
  { what: `../${'shared'}`, re: new RegExp(`\\.\\./${'shared'}\\b`) },
  { what: `/${'work'}/`, re: new RegExp(`/${'work'}/`) },
];

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && f !== 'package-lock.json');
}

/** Each hit as `file:line: text`, for a readable failure. */
export function forbiddenReferences(files: Array<{ name: string; text: string }>): string[] {
  const hits: string[] = [];
  for (const { name, text } of files) {
    if (text.includes('\0')) continue; // binary
    text.split('\n').forEach((line, i) => {
      for (const { what, re } of FORBIDDEN) if (re.test(line)) hits.push(`${name}:${i + 1}: ${what}: ${line.trim().slice(0, 120)}`);
    });
  }
  return hits;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(slug(m[1]!));
  }
  return out;
}

/** Broken relative links of one markdown file (`path` relative to ROOT): each as `target: why`. */
export function brokenLinks(file: string, markdown: string, read: (p: string) => string | null): string[] {
  const broken: string[] = [];
  // code spans and fences are not links
  const text = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [rel, anchor] = target.split('#') as [string, string | undefined];
    const resolved = rel ? path.join(path.dirname(file), rel) : file;
    const content = read(resolved);
    if (content === null) {
      broken.push(`${target}: no file ${resolved}`);
      continue;
    }
    if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(content).has(anchor))
      broken.push(`${target}: no heading #${anchor} in ${resolved}`);
  }
  return broken;
}

const readRepo = (p: string): string | null => {
  const abs = path.join(ROOT, p);
  if (!existsSync(abs)) return null;
  try {
    return readFileSync(abs, 'utf8');
  } catch {
    return ''; // a directory: exists, no headings
  }
};

interface ZodDef {
  type: string;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  options?: unknown[];
  shape?: Record<string, unknown>;
}

/** Every leaf key path of a zod schema, through its wrappers; an array's elements as `key[]`, a union's options merged. */
function schemaLeaves(schema: unknown, prefix: string[] = []): string[][] {
  const def = (schema as { _zod: { def: ZodDef } })._zod.def;
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
      return schemaLeaves(def.innerType, prefix);
    case 'pipe':
      return schemaLeaves(def.in, prefix);
    case 'object':
      return Object.entries(def.shape!).flatMap(([k, v]) => schemaLeaves(v, [...prefix, k]));
    case 'array':
      return schemaLeaves(def.element, [...prefix.slice(0, -1), `${prefix.at(-1)}[]`]);
    case 'union': {
      const byPath = new Map<string, string[]>();
      for (const option of def.options!) for (const p of schemaLeaves(option, prefix)) byPath.set(p.join('.'), p);
      return [...byPath.values()];
    }
    default:
      return [prefix];
  }
}

/** The part of a markdown file under `## <title>`, up to the next `## `. */
function sectionOf(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/** The body rows of every markdown table in `text`, each as header → cell. */
function tableRows(text: string): Array<Record<string, string>> {
  const rows: Array<Record<string, string>> = [];
  let header: string[] | null = null;
  const cells = (line: string) => line.replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/).map((c) => c.trim());
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) header = null;
    else if (!header) header = cells(line);
    else if (!/^\|[\s|:-]+\|$/.test(line)) rows.push(Object.fromEntries(cells(line).map((c, i) => [header![i] ?? String(i), c])));
  }
  return rows;
}

/** TypeScript files under a folder of the repository, relative to ROOT. */
function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
  );
}

const docs = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('documentation', () => {
  it('no tracked file refers to notes or paths outside the repository', () => {
    const files = trackedFiles()
      .filter((f) => existsSync(path.join(ROOT, f)))
      .map((name) => ({ name, text: readFileSync(path.join(ROOT, name), 'utf8') }));
    expect(files.length).toBeGreaterThan(100);
    expect(forbiddenReferences(files)).toEqual([]);
  });

  it('every docs/ file a tracked file names exists', () => {
    const self = path.relative(ROOT, fileURLToPath(import.meta.url)).split(path.sep).join('/');
    const missing = new Set<string>();
    for (const name of trackedFiles()) {
      if (name === self || !existsSync(path.join(ROOT, name))) continue;
      for (const m of readFileSync(path.join(ROOT, name), 'utf8').matchAll(/\bdocs\/[A-Za-z0-9_-]+\.md\b/g))
        if (!existsSync(path.join(ROOT, m[0]))) missing.add(`${name}: ${m[0]}`);
    }
    expect([...missing]).toEqual([]);
  });

  it('the reference check finds what it is meant to find', () => {
    const sample = [
      { name: 'a.ts', text: `// see ${NOTE_NAMES[0]} "Wire contract"\n// docs/contract.md is fine` },
      { name: 'b.ts', text: `// ${'..'}/shared/${NOTE_NAMES[2]}` },
      { name: 'c.md', text: `[x](/${'work'}/main/README.md)` },
      { name: 'd.ts', text: '// docs/design.md, docs/conventions.md: fine' },
    ];
    const hits = forbiddenReferences(sample);
    expect(hits.filter((h) => h.startsWith('a.ts:1:'))).toHaveLength(1);
    expect(hits.filter((h) => h.startsWith('b.ts:1:'))).toHaveLength(2);
    expect(hits.filter((h) => h.startsWith('c.md:1:'))).toHaveLength(1);
    expect(hits.filter((h) => h.startsWith('a.ts:2:') || h.startsWith('d.ts'))).toEqual([]);
  });

  it('README.md and docs/ exist and are linked from the README', () => {
    const readme = readRepo('README.md')!;
    expect(docs.length).toBeGreaterThanOrEqual(10);
    for (const d of docs.filter((d) => d !== 'README.md')) expect(readme, `README links ${d}`).toContain(`](${d})`);
  });

  it.each(docs)('every relative link in %s reaches an existing file and heading', (file) => {
    expect(brokenLinks(file, readRepo(file)!, readRepo)).toEqual([]);
  });

  it('the link check reports a missing file and a missing heading', () => {
    const files: Record<string, string> = { 'docs/a.md': '# Top\n## Two words, here\n', 'docs/b.md': '' };
    const read = (p: string) => files[p] ?? null;
    const md = '[ok](a.md#two-words-here) [ok](b.md) [ok](https://example.com/x) `[no](code.md)` [bad](c.md) [bad](a.md#three)';
    expect(brokenLinks('docs/x.md', md, read)).toEqual(['c.md: no file docs/c.md', 'a.md#three: no heading #three in docs/a.md']);
    expect(slug('WebSocket `/ws`')).toBe('websocket-ws');
    expect(slug('V8 heap settings')).toBe('v8-heap-settings');
  });

  it('docs/configuration.md names every environment variable the server reads', () => {
    const text = readRepo('docs/configuration.md')!;
    const missing = ENV_MAP.map(([name]) => name).filter((name) => !text.includes(`\`${name}\``));
    expect(ENV_MAP.length).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });

  it.each([
    ['server', ServerConfigSchema, 50],
    ['edge agent', AgentConfigSchema, 40],
  ] as const)('docs/configuration.md names every key of the %s config schema', (_, schema, atLeast) => {
    const text = readRepo('docs/configuration.md')!;
    const keys = schemaLeaves(schema);
    const has = (p: string[]) => {
      const k = p.join('.');
      return text.includes(`\`${k}\``) || (k.endsWith('[]') && text.includes(`\`${k.slice(0, -2)}\``));
    };
    // a key is named in full, or by a documented parent object (`mqtt.tls`), or as `.key` in a row of siblings
    const named = (p: string[]) =>
      has(p) || p.slice(0, -1).some((_, i) => i > 0 && has(p.slice(0, i + 1))) || (p.length > 2 && text.includes(`\`.${p[p.length - 1]}\``));
    expect(keys.length).toBeGreaterThan(atLeast);
    expect(keys.filter((p) => !named(p)).map((p) => p.join('.'))).toEqual([]);
  });

  it.each([
    ['Server', () => ServerConfigSchema.parse({ influx: { url: 'http://127.0.0.1:8086' } })],
    ['Edge agent', () => AgentConfigSchema.parse({ agent: 'a1', site: 's1', mqtt: { url: 'mqtt://127.0.0.1:1883' }, spool: { dir: 'spool' } })],
  ] as const)('docs/configuration.md gives the schema default of every key it lists alone (%s)', (section, defaults) => {
    const cfg = defaults() as unknown as Record<string, unknown>;
    const rows = tableRows(sectionOf(readRepo('docs/configuration.md')!, section));
    const checked: string[] = [];
    const wrong: string[] = [];
    for (const row of rows) {
      const keys = [...(row['file key'] ?? row['key'] ?? '').matchAll(/`([A-Za-z.]+)`/g)].map((m) => m[1]!);
      const documented = /^`([^`]+)`/.exec(row['default'] ?? '')?.[1];
      if (keys.length !== 1 || documented === undefined) continue;
      const actual = keys[0]!.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], cfg);
      if (actual === undefined || (typeof actual === 'object' && actual !== null)) continue;
      checked.push(keys[0]!);
      if (documented !== String(actual)) wrong.push(`${keys[0]}: documented ${documented}, schema ${String(actual)}`);
    }
    expect(checked.length).toBeGreaterThan(5);
    expect(wrong).toEqual([]);
  });

  it('docs/api.md names every HTTP route the server registers', () => {
    const text = readRepo('docs/api.md')!;
    const routes = new Set<string>();
    for (const file of sourceFiles('server')) {
      const code = readRepo(file)!;
      // app.get('/api/x', …), app.post<{ Body: … }>(\n '/api/x', …); paths built at run time (`${name}`) are left out
      for (const m of code.matchAll(/\bapp\.(?:get|post|put|patch|delete)\b(?:<(?:[^<>]|<[^<>]*>)*>)?\(\s*(['`])(\/[^'`]*)\1/g))
        if (m[2] !== '/' && !m[2]!.includes('${')) routes.add(m[2]!.replace(/:([A-Za-z]+)/g, '{$1}'));
    }
    expect(routes.size).toBeGreaterThan(20);
    expect([...routes].filter((r) => !new RegExp(`${r.replace(/[{}]/g, '\\$&')}(?![\\w/{-])`).test(text))).toEqual([]);
  });

  it('docs/ names every server error code', () => {
    const codes = new Set(
      ['server/errors.ts', 'server/rules/errors.ts'].flatMap((f) => [...readRepo(f)!.matchAll(/'(GW_ERR_[A-Z0-9_]+)'/g)].map((m) => m[1]!)),
    );
    const all = docs.map((d) => readRepo(d)!).join('\n');
    expect(codes.size).toBeGreaterThan(20);
    expect([...codes].filter((c) => !all.includes(c))).toEqual([]);
  });
});
