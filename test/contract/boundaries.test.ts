/**
 * The contract is what every part shares, so it imports no other part of
 * the repository; the dashboard reads the server's frames and answers
 * through the contract's types (contract/frames.ts), never from server/ or
 * another part. Checked on the import declarations of every source file,
 * parsed with the TypeScript compiler (type-only imports included).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** every module specifier a file imports or re-exports, with its line */
function importsOf(file: string): Array<{ spec: string; line: number }> {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Array<{ spec: string; line: number }> = [];
  for (const st of sf.statements) {
    const spec = (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? st.moduleSpecifier.text : null;
    if (spec) out.push({ spec, line: sf.getLineAndCharacterOfPosition(st.getStart(sf)).line + 1 });
  }
  return out;
}

/** files under `dir` importing a repository file outside `allowed` folders, as "file:line → target" */
function crossings(dir: string, allowed: readonly string[]): string[] {
  const bad: string[] = [];
  for (const file of sources(path.join(ROOT, dir))) {
    for (const { spec, line } of importsOf(file)) {
      if (!spec.startsWith('.')) continue; // a package
      const target = path.relative(ROOT, path.resolve(path.dirname(file), spec)).split(path.sep).join('/');
      if (!allowed.some((a) => target.startsWith(`${a}/`))) bad.push(`${path.relative(ROOT, file)}:${line} → ${target}`);
    }
  }
  return bad;
}

describe('import boundaries', () => {
  it('contract/ imports nothing from the rest of the repository', () => {
    const bad = crossings('contract', ['contract']);
    expect(bad, bad.join('\n')).toEqual([]);
  });

  it('the dashboard imports only itself and the contract (frames come from contract/frames.ts)', () => {
    const bad = crossings('dashboard/src', ['dashboard/src', 'contract']);
    expect(bad, bad.join('\n')).toEqual([]);
  });

  it('the contract exports the frame types both sides use', () => {
    const index = importsOf(path.join(ROOT, 'contract/index.ts')).map((i) => i.spec);
    expect(index).toContain('./frames.ts');
    const served = importsOf(path.join(ROOT, 'dashboard/src/alarms/store.ts')).map((i) => i.spec);
    expect(served).toContain('../../../contract/frames.ts');
  });
});
