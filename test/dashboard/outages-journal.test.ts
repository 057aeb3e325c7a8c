/**
 * The outage and plan timelines in the page's language: every sentence the
 * pool journals is read as an event kind with its parameters
 * (server/outages/journal-text.ts), each kind has its text in both
 * dictionaries, and the Chinese page shows no English sentence of the
 * server. An unknown sentence is shown as the server wrote it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { journalEvent } from '../../server/outages/journal-text.ts';
import { hasKey, setLang } from '../../dashboard/src/i18n.ts';
import { journalText } from '../../dashboard/src/outages/text.ts';

/** one of each sentence the pool writes (server/outages/pool.ts, pool-actions.ts, plans.ts, reconcile.ts) */
const SAID = [
  'created (3 customers)',
  'created (3 customers, late notice)',
  'imported (CSV line 4, 12 customers)',
  'confirmed (3 customers)',
  'confirmed again (1 added)',
  'cancelled',
  'edited',
  'notices handed over (3 customers)',
  'notices handed over: outage_cancelled (2 customers)',
  'notices handed over: outage_restored (2 customers), outage_extended (1 customers)',
  'affected list changed by a reload: +1 −2, confirm again',
  'affected list recomputed',
  'supply cut: in progress',
  'supply still present 10 min after the start: not executed',
  'supply back: done',
  'still dark after the planned end: overrun',
  'supply back after the overrun',
  'measured outage O7 reconciled',
  'transformer outage (fault): 12 customers',
  'feeder outage (planned P3): 40 customers',
  'line outage (unknown, nested in O2): 1 customers',
  'merged into O9',
  'restored: 10 customers measured back, 1 still dark, 1 not measured',
  'restored',
  'extended',
  'repair call T4 linked',
  'finding F2',
];

afterAll(() => setLang('zh'));

describe('timeline text', () => {
  it('reads every sentence the pool writes as an event with a text in both languages', () => {
    for (const what of SAID) {
      const ev = journalEvent(what);
      expect(ev, what).not.toBeNull();
      expect(hasKey(`oj_${ev!.k}`), `oj_${ev!.k}`).toBe(true);
    }
    expect(journalEvent('feeder outage (planned P3): 40 customers')).toEqual({ k: 'opened', p: { scope: 'feeder', cause: 'planned', plan: 'P3', n: 40 } });
  });

  it('shows Chinese on the Chinese page and English on the English one', () => {
    // setLang marks the page's language on <html>
    globalThis.document ??= { documentElement: {} } as unknown as Document;
    setLang('zh');
    for (const what of SAID) {
      const text = journalText({ at: 0, what, ev: journalEvent(what)! });
      // ids (O7, P3, F2, T4) and CSV may stay; no English word may
      expect(text, what).not.toMatch(/[a-z]{3,}/);
    }
    expect(journalText({ at: 0, what: 'x', ev: journalEvent('feeder outage (planned P3): 40 customers')! })).toBe('10kV 线路停电（计划停电）：40 户，计划 P3');
    setLang('en');
    expect(journalText({ at: 0, what: 'x', ev: journalEvent('restored: 10 customers measured back, 1 still dark, 1 not measured')! })).toBe('restored: 10 customers measured back, 1 still dark, 1 not measured');
    // a sentence without a known kind: as the server wrote it
    expect(journalText({ at: 0, what: 'something new_here' })).toBe('something new here');
    expect(journalText({ at: 0, what: 'odd', ev: { k: 'no_such_kind', p: {} } })).toBe('odd');
  });
});
