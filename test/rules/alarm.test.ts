import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  annunciates,
  applyOp,
  dueShelfExpiries,
  escalationDue,
  parseAlarmId,
  rebuild,
  type Alarm,
  type AlarmOp,
  type AlarmState,
  type AlarmTransition,
  type Severity,
} from '../../server/rules/index.ts';
import { T0 } from './helpers.ts';

const ID = 'u-high:m1';

/** Applies ops in order at T0 + i s; returns the alarm, the journal and each result. */
function run(ops: (AlarmOp | [AlarmOp, number])[]) {
  let alarm: Alarm | undefined;
  const journal: AlarmTransition[] = [];
  const results = ops.map((o, i) => {
    const [op, at] = Array.isArray(o) ? o : [o, T0 + i * 1000];
    const r = applyOp(alarm, op, at);
    if (r.ok) {
      alarm = r.alarm;
      journal.push(...r.transitions);
    }
    return r;
  });
  return { alarm, journal, results };
}

const raise = (severity: Severity = 3, level = 'hi'): AlarmOp => ({ op: 'raise', alarmId: ID, severity, level, message: `ua > ${level}` });
const clear: AlarmOp = { op: 'clear', alarmId: ID };
const ack: AlarmOp = { op: 'acknowledge', alarmId: ID, by: 'li', comment: 'on it' };
const path = (j: AlarmTransition[]) => j.map((t) => `${t.from}→${t.to} ${t.reason}`);

describe('alarm state machine (ISA-18.2)', () => {
  it('raise → ack → clear: normal → unack_active → ack_active → normal', () => {
    const { journal, alarm } = run([raise(), ack, clear]);
    expect(path(journal)).toEqual(['normal→unack_active raise', 'unack_active→ack_active acknowledge', 'ack_active→normal clear']);
    expect(journal[1]).toMatchObject({ by: 'li', comment: 'on it', at: T0 + 1000 });
    expect(alarm).toMatchObject({ state: 'normal', active: false, activeSince: null });
  });

  it('raise → clear → ack: unack_active → unack_rtn → normal', () => {
    const { journal } = run([raise(), clear, ack]);
    expect(path(journal)).toEqual(['normal→unack_active raise', 'unack_active→unack_rtn clear', 'unack_rtn→normal acknowledge']);
  });

  it('a repeated raise (redelivered reading) is no transition; a re-raise before ack re-alarms', () => {
    const { journal } = run([raise(), raise(), clear, raise()]);
    expect(path(journal)).toEqual(['normal→unack_active raise', 'unack_active→unack_rtn clear', 'unack_rtn→unack_active raise']);
  });

  it('ack of a normal or an acknowledged alarm is rejected; operator ops on an unknown alarm too', () => {
    const { results } = run([{ op: 'acknowledge', alarmId: ID, by: 'li' }, raise(), ack, ack]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['GW_ERR_ALARM_UNKNOWN', 'ok', 'ok', 'GW_ERR_ALARM_INVALID_TRANSITION']);
    const n = run([raise(), ack, clear, ack]);
    expect(n.results[3]).toEqual({ ok: false, error: { code: 'GW_ERR_ALARM_INVALID_TRANSITION', message: `alarm ${ID} is normal: nothing to acknowledge` } });
  });

  it('a more severe level after acknowledgement annunciates again; a milder one does not', () => {
    const { journal } = run([raise(3, 'hi'), ack, raise(2, 'hihi'), ack, raise(3, 'hi')]);
    expect(path(journal)).toEqual([
      'normal→unack_active raise',
      'unack_active→ack_active acknowledge',
      'ack_active→unack_active raise',
      'unack_active→ack_active acknowledge',
      'ack_active→ack_active level',
    ]);
    expect(journal.map((t) => t.severity)).toEqual([3, 3, 2, 2, 3]);
  });

  it('shelved: raise and clear are tracked silently; expiry returns to unack_active if active', () => {
    const until = T0 + 60_000;
    const { journal, alarm, results } = run([
      raise(),
      { op: 'shelve', alarmId: ID, by: 'wang', reason: 'sensor being replaced', until },
      clear,
      raise(),
      ack,
      [{ op: 'expire_shelf', alarmId: ID }, until - 1],
      [{ op: 'expire_shelf', alarmId: ID }, until],
    ]);
    expect(path(journal)).toEqual([
      'normal→unack_active raise',
      'unack_active→shelved shelve',
      'shelved→shelved clear',
      'shelved→shelved raise',
      'shelved→unack_active shelve_expired',
    ]);
    expect(results[4]!.ok).toBe(false); // nothing to acknowledge while shelved
    expect(journal[1]).toMatchObject({ by: 'wang', comment: 'sensor being replaced', until });
    expect(journal.slice(1, 4).some(annunciates)).toBe(false);
    expect(annunciates(journal[4]!)).toBe(true);
    expect(alarm).toMatchObject({ state: 'unack_active', shelf: null });
  });

  it('a shelve needs who, why and a future expiry; unshelve of an alarm that is not shelved is rejected', () => {
    const { results } = run([
      raise(),
      { op: 'shelve', alarmId: ID, by: 'wang', reason: ' ', until: T0 + 10_000 },
      { op: 'shelve', alarmId: ID, by: 'wang', reason: 'x', until: T0 },
      { op: 'unshelve', alarmId: ID, by: 'wang' },
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'GW_ERR_ALARM_BAD_ARGUMENT', 'GW_ERR_ALARM_BAD_ARGUMENT', 'GW_ERR_ALARM_INVALID_TRANSITION']);
  });

  it('suppression over a shelve, out of service over both; each lifts to the next', () => {
    const { journal } = run([
      raise(),
      { op: 'shelve', alarmId: ID, by: 'wang', reason: 'noisy', until: T0 + 3_600_000 },
      { op: 'suppress', alarmId: ID, reason: 'outage of transformer s1/t1' },
      { op: 'suppress', alarmId: ID, reason: 'again' },
      { op: 'remove_from_service', alarmId: ID, by: 'zhao', reason: 'meter swap' },
      { op: 'return_to_service', alarmId: ID, by: 'zhao' },
      { op: 'unsuppress', alarmId: ID },
      { op: 'unshelve', alarmId: ID, by: 'wang' },
    ]);
    expect(path(journal)).toEqual([
      'normal→unack_active raise',
      'unack_active→shelved shelve',
      'shelved→suppressed suppress',
      'suppressed→out_of_service remove_from_service',
      'out_of_service→suppressed return_to_service',
      'suppressed→shelved unsuppress',
      'shelved→unack_active unshelve',
    ]);
  });

  it('a raise into a suppressed source never annunciates', () => {
    const { journal } = run([{ ...raise(), suppress: 'outage of transformer s1/t1' } as AlarmOp, clear, { op: 'unsuppress', alarmId: ID }]);
    expect(path(journal)).toEqual(['normal→suppressed suppress', 'suppressed→suppressed raise', 'suppressed→suppressed clear', 'suppressed→normal unsuppress']);
    expect(journal.some(annunciates)).toBe(false);
  });

  it('comments are journaled without a state change', () => {
    const { journal, results } = run([raise(), { op: 'comment', alarmId: ID, by: 'li', comment: 'crew dispatched' }, { op: 'comment', alarmId: ID, by: 'li', comment: '' }]);
    expect(path(journal)).toEqual(['normal→unack_active raise', 'unack_active→unack_active comment']);
    expect(results[2]!.ok).toBe(false);
  });

  it('alarm ids are ruleId:source; a bad one is rejected', () => {
    expect(parseAlarmId('outage:s1/t1')).toEqual({ ruleId: 'outage', source: 's1/t1' });
    expect(parseAlarmId('stale:dev:with:colons')).toEqual({ ruleId: 'stale', source: 'dev:with:colons' });
    expect(parseAlarmId('nocolon')).toBeNull();
    const r = applyOp(undefined, { op: 'raise', alarmId: 'bad id:x', severity: 1 }, T0);
    expect(!r.ok && r.error.code).toBe('GW_ERR_ALARM_BAD_ARGUMENT');
  });

  it('shelf expiry and escalation queries', () => {
    const { alarm } = run([raise(2), { op: 'shelve', alarmId: ID, by: 'w', reason: 'r', until: T0 + 5000 }]);
    expect(dueShelfExpiries([alarm!], T0 + 4999)).toEqual([]);
    expect(dueShelfExpiries([alarm!], T0 + 5000)).toEqual([ID]);
    const active = run([raise(2)]).alarm!;
    expect(escalationDue(active, T0 + 299_999, { 2: 300_000 })).toBe(false);
    expect(escalationDue(active, T0 + 300_000, { 2: 300_000 })).toBe(true);
    expect(escalationDue(active, T0 + 10 ** 9, { 1: 1 })).toBe(false);
  });

  it('rebuild orders by seq when the journal has one', () => {
    const { journal, alarm } = run([raise(), ack, clear]);
    const stored = journal.map((t, i) => ({ ...t, seq: i + 1 }));
    const shuffled = [stored[2]!, stored[0]!, stored[1]!];
    expect(rebuild(shuffled).get(ID)).toEqual(alarm);
  });
});

// ---------------------------------------------------------------- property test against a reference model

type Base = 'normal' | 'unack_active' | 'ack_active' | 'unack_rtn';
interface Model {
  active: boolean;
  base: Base;
  shelfUntil: number | null;
  suppressed: boolean;
  oos: boolean;
  severity: Severity;
  level: string | null;
}

function shown(m: Model): AlarmState {
  return m.oos ? 'out_of_service' : m.suppressed ? 'suppressed' : m.shelfUntil !== null ? 'shelved' : m.base;
}
const hidden = (m: Model) => m.oos || m.suppressed || m.shelfUntil !== null;
/** ISA-18.2: back from shelved/suppressed/out of service, an active alarm annunciates again. */
function lifted(m: Model): Model {
  return hidden(m) ? m : { ...m, base: m.active ? 'unack_active' : 'normal' };
}

type Expect = { reject: string } | { model: Model | undefined; transitions: number };

/** The reference: the ISA-18.2 rules written as plainly as possible. */
function reference(m: Model | undefined, op: AlarmOp, at: number): Expect {
  const fresh = (severity: Severity): Model => ({ active: false, base: 'normal', shelfUntil: null, suppressed: false, oos: false, severity, level: null });
  switch (op.op) {
    case 'raise': {
      let cur = m ?? fresh(op.severity);
      let n = 0;
      if (op.suppress && !cur.suppressed) {
        cur = { ...cur, suppressed: true };
        n++;
      }
      const level = op.level ?? null;
      if (cur.active && cur.severity === op.severity && cur.level === level) return { model: cur, transitions: n };
      let base = cur.base;
      if (!hidden(cur)) {
        if (base === 'normal' || base === 'unack_rtn') base = 'unack_active';
        else if (base === 'ack_active' && op.severity < cur.severity) base = 'unack_active';
      }
      return { model: { ...cur, base, active: true, severity: op.severity, level }, transitions: n + 1 };
    }
    case 'clear': {
      if (!m || !m.active) return { model: m, transitions: 0 };
      const base = hidden(m) ? m.base : m.base === 'unack_active' ? 'unack_rtn' : m.base === 'ack_active' ? 'normal' : m.base;
      return { model: { ...m, active: false, base }, transitions: 1 };
    }
    case 'acknowledge':
      if (!m) return { reject: 'GW_ERR_ALARM_UNKNOWN' };
      if (shown(m) === 'unack_active') return { model: { ...m, base: 'ack_active' }, transitions: 1 };
      if (shown(m) === 'unack_rtn') return { model: { ...m, base: 'normal' }, transitions: 1 };
      return { reject: 'GW_ERR_ALARM_INVALID_TRANSITION' };
    case 'shelve':
      if (op.until <= at) return { reject: 'GW_ERR_ALARM_BAD_ARGUMENT' };
      if (!m) return { reject: 'GW_ERR_ALARM_UNKNOWN' };
      if (hidden(m)) return { reject: 'GW_ERR_ALARM_INVALID_TRANSITION' };
      return { model: { ...m, shelfUntil: op.until }, transitions: 1 };
    case 'unshelve':
      if (!m) return { reject: 'GW_ERR_ALARM_UNKNOWN' };
      if (shown(m) !== 'shelved') return { reject: 'GW_ERR_ALARM_INVALID_TRANSITION' };
      return { model: lifted({ ...m, shelfUntil: null }), transitions: 1 };
    case 'expire_shelf':
      if (!m || m.shelfUntil === null || m.shelfUntil > at) return { model: m, transitions: 0 };
      return { model: lifted({ ...m, shelfUntil: null }), transitions: 1 };
    case 'suppress':
      if (m?.suppressed) return { model: m, transitions: 0 };
      return { model: { ...(m ?? fresh(op.severity ?? 4)), suppressed: true }, transitions: 1 };
    case 'unsuppress':
      if (!m || !m.suppressed) return { model: m, transitions: 0 };
      return { model: lifted({ ...m, suppressed: false }), transitions: 1 };
    case 'remove_from_service':
      if (m?.oos) return { reject: 'GW_ERR_ALARM_INVALID_TRANSITION' };
      return { model: { ...(m ?? fresh(op.severity ?? 4)), oos: true }, transitions: 1 };
    case 'return_to_service':
      if (!m) return { reject: 'GW_ERR_ALARM_UNKNOWN' };
      if (!m.oos) return { reject: 'GW_ERR_ALARM_INVALID_TRANSITION' };
      return { model: lifted({ ...m, oos: false }), transitions: 1 };
    case 'comment':
      if (!m) return { reject: 'GW_ERR_ALARM_UNKNOWN' };
      return { model: m, transitions: 1 };
  }
}

const IDS = ['u-high:m1', 'u-high:m2', 'outage:s1/t1'];
const arbSeverity = fc.constantFrom<Severity>(1, 2, 3, 4);
const arbOp = (alarmId: string): fc.Arbitrary<AlarmOp> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('raise' as const), alarmId: fc.constant(alarmId), severity: arbSeverity, level: fc.constantFrom('hi', 'hihi'), suppress: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant('outage') }) }) },
    { weight: 4, arbitrary: fc.constant<AlarmOp>({ op: 'clear', alarmId }) },
    { weight: 3, arbitrary: fc.constant<AlarmOp>({ op: 'acknowledge', alarmId, by: 'op1' }) },
    { weight: 2, arbitrary: fc.integer({ min: -2, max: 30 }).map<AlarmOp>((d) => ({ op: 'shelve', alarmId, by: 'op1', reason: 'nuisance', until: d })) },
    { weight: 1, arbitrary: fc.constant<AlarmOp>({ op: 'unshelve', alarmId, by: 'op1' }) },
    { weight: 2, arbitrary: fc.constant<AlarmOp>({ op: 'expire_shelf', alarmId }) },
    { weight: 1, arbitrary: fc.constant<AlarmOp>({ op: 'suppress', alarmId, reason: 'outage' }) },
    { weight: 1, arbitrary: fc.constant<AlarmOp>({ op: 'unsuppress', alarmId }) },
    { weight: 1, arbitrary: fc.constant<AlarmOp>({ op: 'remove_from_service', alarmId, by: 'op2', reason: 'maintenance' }) },
    { weight: 1, arbitrary: fc.constant<AlarmOp>({ op: 'return_to_service', alarmId, by: 'op2' }) },
    { weight: 1, arbitrary: fc.constant<AlarmOp>({ op: 'comment', alarmId, by: 'op1', comment: 'note' }) },
  );
/** [op, seconds since the previous op]; a shelve's `until` is relative to its own time. */
const arbStep = fc.tuple(fc.constantFrom(...IDS).chain(arbOp), fc.integer({ min: 0, max: 10 }));

describe('alarm state machine: property test against a reference model', () => {
  it('random operation sequences: same outcomes as the model, hidden alarms never annunciate, rebuild(journal) = live state', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(arbStep, { maxLength: 60, size: 'medium' }), (steps) => {
        const live = new Map<string, Alarm>();
        const models = new Map<string, Model>();
        const journal: AlarmTransition[] = [];
        let at = T0;
        for (const [op0, dt] of steps) {
          at += dt * 1000;
          const op: AlarmOp = op0.op === 'shelve' ? { ...op0, until: at + op0.until * 1000 } : op0;
          const before = models.get(op.alarmId);
          const want = reference(before, op, at);
          const got = applyOp(live.get(op.alarmId), op, at);
          if ('reject' in want) {
            expect(got.ok ? 'ok' : got.error.code).toBe(want.reject);
            continue;
          }
          if (!got.ok) throw new Error(`rejected ${JSON.stringify(op)}: ${got.error.message}`);
          expect(got.transitions.length).toBe(want.transitions);
          if (want.model === undefined) {
            expect(got.alarm).toBeUndefined();
            continue;
          }
          const a = got.alarm!;
          expect([a.state, a.active, a.severity]).toEqual([shown(want.model), want.model.active, want.model.severity]);
          // transitions chain from the state before to the state after
          let prev: AlarmState = before ? shown(before) : 'normal';
          for (const t of got.transitions) {
            expect(t.from).toBe(prev);
            prev = t.to;
            expect(t.at).toBe(at);
          }
          expect(prev).toBe(a.state);
          // a hidden alarm (or a raise into suppression) never annunciates; only a lift can bring it back
          if ((before && hidden(before)) || (op.op === 'raise' && op.suppress)) {
            const lifts = ['unshelve', 'expire_shelf', 'unsuppress', 'return_to_service'];
            if (!lifts.includes(op.op)) expect(got.transitions.some(annunciates)).toBe(false);
          }
          live.set(op.alarmId, a);
          models.set(op.alarmId, want.model);
          journal.push(...got.transitions);
          for (const t of got.transitions) seen.add(`${t.from}→${t.to} ${t.reason}`);
        }
        // the journal, stored (seq assigned, JSON) and read back, rebuilds the live set
        const stored = JSON.parse(JSON.stringify(journal.map((t, i) => ({ ...t, seq: i + 1 })))) as AlarmTransition[];
        const rebuilt = rebuild(stored);
        expect(rebuilt).toEqual(live);
        expect(rebuild(journal)).toEqual(live);
      }),
      { numRuns: 2000 },
    );
    // the runs did reach every transition of the machine (a guard against a vacuous property)
    const expected = [
      'normal→unack_active raise', 'unack_active→unack_active level', 'unack_active→ack_active acknowledge', 'unack_active→unack_rtn clear',
      'ack_active→normal clear', 'ack_active→unack_active raise', 'ack_active→ack_active level', 'unack_rtn→unack_active raise', 'unack_rtn→normal acknowledge',
      'normal→shelved shelve', 'unack_active→shelved shelve', 'ack_active→shelved shelve', 'unack_rtn→shelved shelve',
      'shelved→shelved raise', 'shelved→shelved clear', 'shelved→unack_active unshelve', 'shelved→normal unshelve',
      'shelved→unack_active shelve_expired', 'shelved→normal shelve_expired', 'shelved→suppressed suppress', 'shelved→out_of_service remove_from_service',
      'normal→suppressed suppress', 'unack_active→suppressed suppress', 'suppressed→suppressed raise', 'suppressed→suppressed clear',
      'suppressed→unack_active unsuppress', 'suppressed→normal unsuppress', 'suppressed→shelved unsuppress', 'suppressed→suppressed shelve_expired',
      'suppressed→out_of_service remove_from_service', 'out_of_service→out_of_service suppress', 'out_of_service→out_of_service raise',
      'out_of_service→unack_active return_to_service', 'out_of_service→normal return_to_service', 'out_of_service→suppressed return_to_service',
      'unack_active→unack_active comment', 'out_of_service→out_of_service comment',
    ];
    expect(expected.filter((x) => !seen.has(x))).toEqual([]);
  });
});
