/**
 * Every word the dashboard shows goes through its dictionaries
 * (dashboard/src/i18n.ts and dashboard/src/i18n/*.ts): the sources are
 * parsed with the TypeScript compiler and any Chinese text in a string or
 * template, any `L('中文', 'English')`-style helper call, and any conditional
 * that picks by language (`getLang() === 'zh' ? … : …`) outside the
 * dictionaries is reported as file:line. Both dictionaries hold the same keys,
 * no message is empty, and a message names the same `{parameters}` in both
 * languages. `t()` fills parameters in one pass.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ALARM_STATES, SEVERITIES, TRANSITION_REASONS } from '../../contract/frames.ts';
import { dictionaries, setLang, t } from '../../dashboard/src/i18n.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'dashboard/src');

/** the dictionaries themselves may hold any word */
const isDictionary = (rel: string): boolean => rel === 'dashboard/src/i18n.ts' || rel.startsWith('dashboard/src/i18n/');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Han characters and CJK punctuation (，：（）“” etc.) */
const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;

/** what a conditional's test must not look at to choose a word: the page's language */
const picksByLanguage = (node: ts.Node): boolean => {
  let found = false;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'getLang') found = true;
    else if (ts.isIdentifier(n) && (n.text === 'lang' || n.text === 'language')) found = true;
    else if (ts.isStringLiteral(n) && (n.text === 'zh' || n.text === 'en')) found = true;
    else ts.forEachChild(n, visit);
  };
  visit(node);
  return found;
};

/** The places in one source file where a word bypasses the dictionaries, as "file:line: what". */
function literalFindings(rel: string, text: string): string[] {
  const sf = ts.createSourceFile(rel, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const at = (n: ts.Node, what: string) => found.push(`${rel}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}: ${what}`);
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) {
      if (CJK.test(n.text)) at(n, `Chinese text in code: ${JSON.stringify(n.text)}`);
    } else if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'L') {
      at(n, 'L(zh, en) call: use t() with a message key');
    } else if (ts.isConditionalExpression(n) && picksByLanguage(n.condition)) {
      at(n, `picks by language: ${n.condition.getText(sf)} ? …`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

describe('dashboard words go through i18n', () => {
  it('no Chinese literal, L() call or language ternary outside the dictionaries', () => {
    const findings: string[] = [];
    for (const file of sources(SRC)) {
      const rel = path.relative(ROOT, file).split(path.sep).join('/');
      if (!isDictionary(rel)) findings.push(...literalFindings(rel, readFileSync(file, 'utf8')));
    }
    expect(findings, findings.join('\n')).toEqual([]);
  });

  it('the scan finds each kind of bypass and ignores comments', () => {
    const sample = [
      '// 注释里的中文可以',
      "/** 远程会诊 */ const ok = t('call');",
      "const a = el('b', {}, '告警');",
      "const b = L('确认', 'Ack');",
      "const c = getLang() === 'zh' ? '小时' : 'h';",
      'const d = `${n} 条`;',
      "const e = lang === 'en' ? x : y;",
    ].join('\n');
    const f = literalFindings('x.ts', sample);
    expect(f.map((s) => s.split(':')[1])).toEqual(['3', '4', '4', '5', '5', '6', '7']);
    expect(f[1]).toContain('L(zh, en) call');
    expect(f[3]).toContain('picks by language');
  });

  it('zh and en hold the same keys, none empty, with the same parameters', () => {
    const { zh, en } = dictionaries;
    const zk = Object.keys(zh).sort();
    const ek = Object.keys(en).sort();
    expect(ek.filter((k) => !(k in zh)), 'in en only').toEqual([]);
    expect(zk.filter((k) => !(k in en)), 'in zh only').toEqual([]);
    const params = (s: string) => [...new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
    const bad: string[] = [];
    for (const k of zk) {
      if (!zh[k]!.trim() || !en[k]!.trim()) bad.push(`${k}: empty`);
      else if (params(zh[k]!).join() !== params(en[k]!).join()) bad.push(`${k}: zh {${params(zh[k]!)}} en {${params(en[k]!)}}`);
    }
    expect(bad, bad.join('\n')).toEqual([]);
  });

  it('every alarm state, journal reason and severity of the contract has its label', () => {
    const codes = [...ALARM_STATES.map((c) => `st_${c}`), ...TRANSITION_REASONS.map((c) => `rs_${c}`), ...SEVERITIES.map((c) => `sev_${c}`)];
    expect(codes.filter((k) => !(k in dictionaries.zh))).toEqual([]);
  });

  it('t() fills every parameter once and leaves a value holding {…} or $& as typed', () => {
    globalThis.document ??= { documentElement: {} } as unknown as Document;
    setLang('zh');
    expect(t('a_shownOfTotal', { shown: 500, total: 812 })).toBe('500 条（共 812 条，只显示前 500 条）');
    expect(t('a_shelvedBy', { by: 'op', reason: 'see {until} $& $1', until: '12:00' })).toBe('搁置 op: see {until} $& $1 → 12:00');
    setLang('en');
    expect(t('a_shownOfTotal', { shown: 500, total: 812 })).toBe('500 of 812 (first 500 shown)');
    expect(t('a_count1')).toBe('1 alarm');
    setLang('zh');
  });
});
