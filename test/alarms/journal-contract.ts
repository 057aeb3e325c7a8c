/**
 * One contract suite for every AlarmJournal implementation (CONVENTIONS.md
 * §3). Each implementation's test calls `journalContract(name, open)`;
 * `open()` gives a fresh, empty journal with a way to reopen the same
 * storage (a restart).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmJournal, EscalationEntry, JournalEntry, RulesEntry, TransitionEntry } from '../../server/alarms/index.ts';

const T0 = Date.UTC(2026, 3, 1, 8, 0, 0);

export interface JournalHarness {
  journal: AlarmJournal;
  /** the same storage opened anew (as after a restart); the previous journal is stopped by then */
  reopen(): Promise<AlarmJournal>;
  close(): Promise<void>;
}

function transition(seq: number, over: Partial<TransitionEntry> = {}): TransitionEntry {
  return {
    kind: 'transition',
    seq,
    alarmId: 'u-deviation:m1',
    ruleId: 'u-deviation',
    source: 'm1',
    from: 'normal',
    to: 'unack_active',
    reason: 'raise',
    at: T0 + seq,
    severity: 3,
    active: true,
    level: 'lo',
    message: 'ua,ub,uc 1-min mean 190 V < lo limit 198 V',
    detail: { value: 190, limit: 198 },
    ...over,
  };
}

export function journalContract(name: string, open: () => Promise<JournalHarness>): void {
  describe(`AlarmJournal contract: ${name}`, () => {
    let h: JournalHarness;
    beforeEach(async () => {
      h = await open();
      await h.journal.start();
    });
    afterEach(async () => {
      await h.close();
    });

    it('starts empty', async () => {
      expect(await h.journal.lastSeq()).toBe(0);
      expect(await h.journal.read()).toEqual([]);
    });

    it('returns every kind of entry exactly as appended, in seq order', async () => {
      const esc: EscalationEntry = {
        kind: 'escalation', seq: 3, at: T0 + 9000, alarmId: 'call:site-1', ruleId: 'call', source: 'site-1', severity: 1,
        since: T0 + 100, target: 'http://127.0.0.1:9999/hook', attempts: 2, delivered: true, status: 200,
      };
      const rules: RulesEntry = {
        kind: 'rules', seq: 4, at: T0 + 10_000, by: 'admin', ruleId: 'tx-load', comment: 'summer peak',
        document: { version: 1, useDefaults: true, rules: [{ id: 'tx-load', onDelayS: 3600, levels: { hi: { value: 85 } } }] },
      };
      const entries: JournalEntry[] = [
        transition(1),
        transition(2, { from: 'unack_active', to: 'ack_active', reason: 'acknowledge', by: 'operator', comment: 'crew on the way', level: undefined, message: undefined, detail: undefined }),
        esc,
        rules,
        transition(5, { from: 'ack_active', to: 'shelved', reason: 'shelve', by: 'operator', comment: 'maintenance', until: T0 + 3_600_000, level: undefined, message: undefined, detail: undefined }),
      ].map((e) => JSON.parse(JSON.stringify(e)) as JournalEntry);
      await h.journal.append(entries);
      expect(await h.journal.read()).toEqual(entries);
      expect(await h.journal.lastSeq()).toBe(5);
    });

    it('keeps two events of one alarm in the same millisecond (a raise landing suppressed)', async () => {
      const at = T0 + 777;
      const a = transition(10, { at, from: 'normal', to: 'suppressed', reason: 'suppress', comment: 'outage of transformer s1/t1', active: false, level: undefined, message: undefined, detail: undefined });
      const b = transition(11, { at, from: 'suppressed', to: 'suppressed', reason: 'raise' });
      await h.journal.append([a, b]);
      expect((await h.journal.read()).map((e) => e.seq)).toEqual([10, 11]);
    });

    it('is idempotent: a retried batch stores nothing twice', async () => {
      const batch = [transition(1), transition(2, { at: T0 + 2, reason: 'clear', to: 'unack_rtn', from: 'unack_active', active: false })];
      await h.journal.append(batch);
      await h.journal.append(batch);
      await h.journal.append([batch[1]!, transition(3)]);
      expect((await h.journal.read()).map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it('orders by seq, not by time (a transition may carry an older reading time)', async () => {
      await h.journal.append([transition(1, { at: T0 + 5000 }), transition(2, { at: T0 + 1000, alarmId: 'x:m2', source: 'm2', ruleId: 'x' }), transition(3, { at: T0 + 3000 })]);
      expect((await h.journal.read()).map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it('filters by kind, alarm, time window [from, to), seq and limit', async () => {
      const other = { alarmId: 'f-deviation:m2', ruleId: 'f-deviation', source: 'm2' };
      await h.journal.append([
        transition(1, { at: T0 }),
        transition(2, { at: T0 + 1000, ...other }),
        transition(3, { at: T0 + 2000 }),
        { kind: 'rules', seq: 4, at: T0 + 3000, by: 'admin', ruleId: '', document: { version: 1 } },
        transition(5, { at: T0 + 4000, ...other }),
      ]);
      const seqs = async (q: Parameters<AlarmJournal['read']>[0]) => (await h.journal.read(q)).map((e) => e.seq);
      expect(await seqs({ kind: 'rules' })).toEqual([4]);
      expect(await seqs({ alarmId: 'f-deviation:m2' })).toEqual([2, 5]);
      expect(await seqs({ from: T0 + 1000, to: T0 + 3000 })).toEqual([2, 3]);
      expect(await seqs({ afterSeq: 3 })).toEqual([4, 5]);
      expect(await seqs({ kind: 'transition', limit: 2 })).toEqual([1, 2]);
      expect(await seqs({ alarmId: 'nope:x' })).toEqual([]);
    });

    it('carries any text: quotes, backslashes, newlines, commas, spaces, equals signs, CJK', async () => {
      const source = 'meter 7,a=b\\c\nd';
      const e = transition(1, {
        alarmId: `u-deviation:${source}`,
        source,
        comment: '值班员: "已通知" \\ line1\nline2, a=b',
        message: 'tab\there',
        detail: { nested: { list: [1, 'two', null, true] }, text: '"q"\n' },
      });
      await h.journal.append([e]);
      expect(await h.journal.read({ alarmId: e.alarmId })).toEqual([e]);
    });

    it('keeps everything across a reopen (a restart)', async () => {
      await h.journal.append([transition(1), transition(2, { at: T0 + 50, reason: 'comment', to: 'unack_active', from: 'unack_active', by: 'op', comment: 'c' })]);
      const again = await h.reopen();
      await again.start();
      expect((await again.read()).map((e) => e.seq)).toEqual([1, 2]);
      expect(await again.lastSeq()).toBe(2);
      await again.append([transition(3)]);
      expect(await again.lastSeq()).toBe(3);
    });
  });
}
