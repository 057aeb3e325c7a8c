/**
 * Risk item steps as kinds with parameters: every kind has its words in the
 * dashboard's and the reports' tables in Chinese and English, with the same
 * parameters in both; each step the server makes carries its kind, and the
 * English text it journals reads back to the same kind and parameters (so a
 * line journaled before the kinds existed is said the same way); the reports
 * say each kind with every parameter filled in.
 */
import { describe, expect, it } from 'vitest';
import { RISK_STEP_KINDS, type RiskItem, type RiskItemEvent, type RiskStep } from '../../contract/risk.ts';
import { riskEn, riskZh } from '../../dashboard/src/i18n/risk.ts';
import { applyStep, stepsForDays, overdueSteps, type ItemStep } from '../../server/risk/items/lifecycle.ts';
import { assignFor } from '../../server/risk/items/notices.ts';
import { made, notifiedStep, stepOfText, withSteps, type MadeStep } from '../../server/risk/items/steps.ts';
import { STEP_WORDS, eventText } from '../../server/risk/reports/step-words.ts';
import type { Person } from '../../server/notify/contacts.ts';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const dash = (lang: 'zh' | 'en', k: string) => (lang === 'zh' ? (riskZh as Record<string, string>) : (riskEn as Record<string, string>))[`rk_step_${k}`];

const P = (id: string, roles: string[], stations: string[] = []): Person => ({ id, name: `N-${id}`, phone: `1380000${id.padStart(4, '0')}`, roles, stations, active: true });
const routing = { stationRoles: ['station_head', 'station_manager'], onDutyRoles: ['on_call'], leaderRoles: ['leader'] };

/** one made step of every kind, as the server makes them */
function everyKind(): { kind: RiskItemEvent['kind']; step: MadeStep; names?: string[] }[] {
  const own = assignFor([P('1', ['station_head'], ['east (old), site']), P('2', ['station_manager'], ['east (old), site'])], 'east (old), site', routing);
  const duty = assignFor([P('3', ['on_call'])], 'north', routing);
  const nobody = assignFor([], 'north', { ...routing, onDutyRoles: [] });
  const day = { station: 's1', day: '2026-11-03', computedAt: Date.UTC(2026, 10, 3, 22), run: 'daily' as const, window: { from: 0, to: 1 }, score: 40, coverage: 1, rawCode: 'red' as const, code: 'red' as const, driving: 'ack-time-mean', dimensions: { demand: 1, handling: 1, speed: 1 }, indicators: [] };
  const out = stepsForDays([day, { ...day, day: '2026-11-02', code: 'yellow', driving: null }], new Map(), {}, { options: { answerWithinHours: { yellow: 72, red: 24 } }, newId: (d) => `I-${d.day}`, assign: () => own });
  const item = out.steps.reduce<RiskItem | undefined>((it, s) => applyStep(it, s), undefined)!;
  const opened = out.steps.find((s) => s.kind === 'opened')!;
  const changed = out.steps.find((s) => s.kind === 'code-changed')!;
  const [esc] = overdueSteps([item], item.dueAt + 1);
  const asMade = (s: ItemStep): MadeStep => ({ text: s.text!, ev: s.ev! });
  return [
    { kind: 'opened', step: asMade(opened) },
    { kind: 'opened', step: made('opened', { code: 'yellow', day: '2026-11-02' }) },
    { kind: 'code-changed', step: asMade(changed) },
    { kind: 'escalated', step: asMade(esc!) },
    { kind: 'assigned', step: { text: own.text, ev: own.ev! }, names: own.assignees.map((a) => a.name) },
    { kind: 'assigned', step: { text: duty.text, ev: duty.ev! }, names: duty.assignees.map((a) => a.name) },
    { kind: 'assigned', step: { text: nobody.text, ev: nobody.ev! } },
    { kind: 'notified', step: notifiedStep('opened', ['m1', 'm2'], []) },
    { kind: 'notified', step: notifiedStep('escalated', [], ['no phone for person x (bad number)', 'quota']) },
    { kind: 'notified', step: notifiedStep('escalated', [], []) },
  ];
}

describe('risk item step kinds', () => {
  it('every kind has words in both languages, in the dashboard and in the reports, with the same parameters', () => {
    for (const k of RISK_STEP_KINDS) {
      const texts = [dash('zh', k), dash('en', k), STEP_WORDS.zh[k], STEP_WORDS.en[k]];
      for (const t of texts) expect(t, `rk_step_${k}`).toBeTruthy();
      const ph = placeholders(texts[0]!);
      for (const t of texts) expect(placeholders(t!), `parameters of ${k}`).toEqual(ph);
    }
  });

  it('each step the server makes has a kind; its English text reads back to the same kind and parameters', () => {
    const all = everyKind();
    expect(new Set(all.map((x) => x.step.ev.k))).toEqual(new Set(RISK_STEP_KINDS));
    for (const { kind, step, names } of all) {
      expect(RISK_STEP_KINDS).toContain(step.ev.k);
      expect(stepOfText(kind, step.text, names ?? []), step.text).toEqual(step.ev);
    }
  });

  it('a journal line without a kind, and a compacted item of such lines, are read with their kinds', () => {
    const t0 = Date.UTC(2026, 10, 3);
    const old: ItemStep[] = [
      { kind: 'opened', id: 'I1', at: t0, by: 'system', station: 's1', code: 'red', day: '2026-11-03', driving: 'complaints', dueAt: t0 + 1, text: 'red (2026-11-03, complaints)' },
      { kind: 'assigned', id: 'I1', at: t0, by: 'system', assignees: [{ id: 'p', name: '东区所长' }], text: 'responsible people of s1 (station_head)' },
      { kind: 'notified', id: 'I1', at: t0, by: 'system', messages: ['m9'], text: 'opened: m9' },
      { kind: 'follow-up', id: 'I1', at: t0 + 5, by: 'east', text: 'red (2026-11-03) fixed' },
    ];
    const item = old.reduce<RiskItem | undefined>((it, s) => applyStep(it, s), undefined)!;
    expect(item.events.map((e) => e.ev?.k)).toEqual(['opened', 'assigned', 'notified', undefined]);
    expect(item.events[0]!.ev!.p).toEqual({ code: 'red', day: '2026-11-03', driving: 'complaints' });
    expect(item.events[1]!.ev!.p.names).toEqual(['东区所长']);
    // people's words stay words, whatever they look like
    expect(item.events[3]!.text).toBe('red (2026-11-03) fixed');
    const compacted: RiskItem = { ...item, events: item.events.map(({ ev: _ev, ...e }) => e) };
    expect(withSteps(compacted).events).toEqual(item.events);
    // a sentence of no known shape keeps its text and gets no kind
    expect(stepOfText('escalated', 'something else')).toBeUndefined();
  });

  it('the reports say every kind with its parameters filled in, in both languages; an unknown kind shows the text', () => {
    for (const { step } of everyKind())
      for (const lang of ['zh', 'en'] as const) {
        const s = eventText(lang, { at: 0, by: 'system', kind: 'opened', text: step.text, ev: step.ev }, '+08:00', (id) => `<${id}>`);
        expect(s, `${lang} ${step.ev.k}`).not.toMatch(/\{\w+\}/);
        if (lang === 'zh') expect(s).toMatch(/[\u4e00-\u9fff]|→/);
      }
    const zhOpened = eventText('zh', { at: 0, by: 'system', kind: 'opened', ev: { k: 'opened', p: { code: 'red', day: '2026-11-03', driving: 'complaints' } } }, '+08:00');
    expect(zhOpened).toContain('红码');
    expect(zhOpened).toContain('2026-11-03');
    const esc = eventText('en', { at: 0, by: 'system', kind: 'escalated', ev: { k: 'escalated', p: { due: Date.UTC(2026, 10, 3, 16, 0) } } }, '+08:00');
    expect(esc).toBe('not answered by 2026-11-04 00:00');
    const unknown = { k: 'from_a_newer_server', p: {} } as unknown as RiskStep;
    expect(eventText('zh', { at: 0, by: 'system', kind: 'notified', text: 'the English text', ev: unknown }, '+08:00')).toBe('the English text');
  });
});
