/**
 * One contract suite for every AlarmJournal implementation
 * (docs/conventions.md, ports with one contract suite). Each implementation's test calls `journalContract(name, open)`;
 * `open()` gives a fresh, empty journal with a way to reopen the same
 * storage (a restart).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmJournal, EscalationEntry, JournalEntry, RulesEntry, TransitionEntry } from '../../server/alarms/index.ts';
import { applyOp, rebuild, type Alarm, type AlarmOp } from '../../server/rules/index.ts';

const T0 = Date.UTC(2026, 3, 1, 8, 0, 0);

export interface JournalHarness {
  journal: AlarmJournal;
  /** the same storage opened anew (as after a restart); the previous journal is stopped by then */
  reopen(): Promise<AlarmJournal>;
  close(): Promise<void>;
}

/** a raise of `u-deviation:m1` at T0 + seq */
export function transition(seq: number, over: Partial<TransitionEntry> = {}): TransitionEntry {
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

    it('readCurrent: years of closed alarms are not read; the current set rebuilt from it is the one the whole journal gives', async () => {
      // real FSM histories: 400 alarms each raised, acknowledged and cleared 3 times (closed), one raised into
      // unack_rtn and acknowledged (closed), and five open ones whose earlier episodes are closed
      let seq = 0;
      let at = T0;
      const all: JournalEntry[] = [];
      const alarms = new Map<string, Alarm>();
      const op = (o: AlarmOp) => {
        const r = applyOp(alarms.get(o.alarmId), o, (at += 1000));
        if (!r.ok) throw new Error(r.error.message);
        if (r.alarm) alarms.set(o.alarmId, r.alarm);
        for (const t of r.transitions) all.push({ ...t, kind: 'transition', seq: ++seq });
      };
      const raise = (alarmId: string, message = 'ua 190 V < 198 V') => op({ op: 'raise', alarmId, severity: 3, level: 'lo', message, detail: { value: 190 } });
      const episode = (alarmId: string) => {
        raise(alarmId);
        op({ op: 'acknowledge', alarmId, by: 'op', comment: 'seen' });
        op({ op: 'clear', alarmId });
      };
      for (let i = 0; i < 400; i++) for (let k = 0; k < 3; k++) episode(`u-deviation:m${i}`);
      raise('u-deviation:rtn');
      op({ op: 'clear', alarmId: 'u-deviation:rtn' });
      op({ op: 'acknowledge', alarmId: 'u-deviation:rtn', by: 'op2' });
      const escalation = (alarmId: string): EscalationEntry => ({
        kind: 'escalation', seq: ++seq, at: (at += 1000), alarmId, ruleId: 'u-deviation', source: alarmId.slice(12), severity: 3,
        since: alarms.get(alarmId)!.since, target: 'http://127.0.0.1:1/hook', attempts: 1, delivered: true, status: 200,
      });
      all.push(escalation('u-deviation:m0')); // of a closed episode: not needed
      for (const id of ['u-deviation:o1', 'u-deviation:o2', 'u-deviation:o3', 'u-deviation:o4', 'u-deviation:o5']) episode(id);
      raise('u-deviation:o1', 'open, unacknowledged');
      all.push(escalation('u-deviation:o1'));
      raise('u-deviation:o2');
      op({ op: 'acknowledge', alarmId: 'u-deviation:o2', by: 'op', comment: 'crew sent' });
      raise('u-deviation:o3');
      op({ op: 'clear', alarmId: 'u-deviation:o3' }); // unack_rtn
      raise('u-deviation:o4');
      op({ op: 'shelve', alarmId: 'u-deviation:o4', by: 'op', reason: 'maintenance', until: at + 3_600_000 });
      op({ op: 'raise', alarmId: 'u-deviation:o5', severity: 3, level: 'lo', message: 'hidden', suppress: 'outage of transformer s1/t1' });
      all.push({ kind: 'rules', seq: ++seq, at: (at += 1000), by: 'admin', ruleId: '', document: { version: 1 } });
      await h.journal.append(all);

      const current = await h.journal.readCurrent();
      const transitions = (es: JournalEntry[]) => es.filter((e): e is TransitionEntry => e.kind === 'transition');
      expect(rebuild(transitions(current))).toEqual(rebuild(transitions(all)));
      expect(rebuild(transitions(all))).toEqual(alarms);
      // in seq order; per closed alarm at most its last raise, acknowledgement and transition; per open one its episode
      expect(current.map((e) => e.seq)).toEqual([...current.map((e) => e.seq)].sort((a, b) => a - b));
      const perAlarm = new Map<string, number>();
      for (const e of current) if (e.kind !== 'rules') perAlarm.set(e.alarmId, (perAlarm.get(e.alarmId) ?? 0) + 1);
      expect(perAlarm.size).toBe(406);
      expect(perAlarm.get('u-deviation:m7')).toBe(3);
      expect(perAlarm.get('u-deviation:rtn')).toBe(2); // the raise, and the acknowledgement that closed it
      expect(perAlarm.get('u-deviation:o1')).toBe(2); // the raise and its escalation
      expect(perAlarm.get('u-deviation:o3')).toBe(2);
      expect(perAlarm.get('u-deviation:o4')).toBe(2);
      expect(perAlarm.get('u-deviation:o5')).toBe(2); // suppress, then the hidden raise
      expect(current.filter((e) => e.kind === 'escalation').map((e) => e.alarmId)).toEqual(['u-deviation:o1']);
      expect(current.length).toBeLessThan(all.length / 2);
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
