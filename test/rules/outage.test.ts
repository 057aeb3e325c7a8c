/**
 * Outage correlation by topology, driven end to end through the pure core:
 * outage rule per meter → correlateOutages → planOutageOps → applyOp, with
 * the default voltage-deviation rule running beside it on the same readings
 * (its alarms are the consequences that must not flood the operator).
 */
import { describe, expect, it } from 'vitest';
import { parseTopology, type Topology } from '../../contract/index.ts';
import {
  agentPlaces,
  agentSuppressions,
  annunciates,
  applyOp,
  planAgentOps,
  correlateOutages,
  parseRules,
  planOutageOps,
  step,
  toAlarmOp,
  type Alarm,
  type AlarmOp,
  type AlarmTransition,
  type OutageRule,
  type RuleState,
  type ThresholdRule,
} from '../../server/rules/index.ts';
import { T0 } from './helpers.ts';

const S = 1000;

const topo = parseTopology({
  sites: [
    {
      id: 's1',
      name: 'Site 1',
      rooms: [
        {
          id: 'r1',
          name: 'Room 1',
          agent: 'a1',
          transformers: [
            {
              id: 't1',
              name: '1#',
              ratedKva: 630,
              meter: 'mt1',
              lines: [
                { id: 'l1', name: 'L1', meter: 'ml1' },
                { id: 'l2', name: 'L2', meter: 'ml2' },
                { id: 'l3', name: 'L3', meter: 'ml3' },
              ],
            },
            { id: 't2', name: '2#', ratedKva: 400, meter: 'mt2', lines: [{ id: 'l4', name: 'L4', meter: 'ml4' }] },
          ],
        },
      ],
    },
  ],
});
if (!topo.ok) throw new Error(JSON.stringify(topo.errors));
const topology: Topology = topo.topology;
const METERS = ['mt1', 'ml1', 'ml2', 'ml3', 'mt2', 'ml4'];

const rules = parseRules({});
if (!rules.ok) throw new Error('defaults');
const outageRule = rules.rules.find((r) => r.id === 'outage') as OutageRule; // on-delay 2 s, off-delay 5 s, release 600 s
const uDev = rules.rules.find((r) => r.id === 'u-deviation') as ThresholdRule; // 198 V on 1-min means

/** Phase voltage of a meter at second s; undefined = the meter does not answer (comm_loss). */
type Feed = (meter: string, s: number) => number | undefined;

/** The wiring, in miniature: what the server will do each second. */
function world(feed: Feed, seconds: number, rule: OutageRule = outageRule) {
  const outState = new Map<string, RuleState>();
  const uState = new Map<string, RuleState>();
  const alarms = new Map<string, Alarm>();
  const journal: AlarmTransition[] = [];
  let suppressed = new Map<string, string>();
  const apply = (op: AlarmOp, at: number) => {
    const r = applyOp(alarms.get(op.alarmId), op, at);
    if (!r.ok) throw new Error(r.error.message);
    if (r.alarm) alarms.set(op.alarmId, r.alarm);
    journal.push(...r.transitions);
  };
  for (let s = 0; s < seconds; s++) {
    const now = T0 + s * S;
    const inputs = new Map(
      METERS.map((m) => {
        const v = feed(m, s);
        return [m, v === undefined ? ({ ts: now, values: {}, q: 'comm_loss' } as const) : ({ ts: now, values: { ua: v, ub: v, uc: v }, q: 'good' } as const)];
      }),
    );
    // outage first, so the suppressions are in place before consequence alarms are raised
    for (const [m, input] of inputs) outState.set(m, step(outState.get(m), input, rule, now).state);
    const corr = correlateOutages(outState, topology, rule, now);
    for (const op of planOutageOps(alarms, rule.id, corr)) apply(op, now);
    suppressed = new Map(corr.suppress.map((x) => [x.source, x.reason]));
    for (const [m, input] of inputs) {
      const r = step(uState.get(m), input, uDev, now);
      uState.set(m, r.state);
      if (r.transition) apply(toAlarmOp(uDev.id, m, r.transition, suppressed.get(m)), r.transition.at);
    }
  }
  return { alarms, journal, outState };
}

const brief = (ts: readonly AlarmTransition[]) => ts.map((t) => `${(t.at - T0) / S} ${t.alarmId} ${t.from}→${t.to} ${t.reason}`);

describe('outage correlation', () => {
  it('every meter under one transformer dark → ONE alarm on the transformer listing its lines and meters; the consequences stay hidden', () => {
    const underT1 = new Set(['mt1', 'ml1', 'ml2', 'ml3']);
    const { journal, alarms } = world((m, s) => (underT1.has(m) && s >= 10 && s < 400 ? 0 : 220), 1100);

    expect(brief(journal.filter(annunciates))).toEqual(['12 outage:s1/t1 normal→unack_active raise']);
    const out = alarms.get('outage:s1/t1')!;
    expect(out.detail).toEqual({
      scope: 'transformer',
      site: 's1',
      room: 'r1',
      transformer: 't1',
      lines: ['l1', 'l2', 'l3'],
      meters: ['mt1', 'ml1', 'ml2', 'ml3'],
      unknownMeters: [],
    });
    expect(out.message).toBe('outage of transformer 1# (s1/t1) in Room 1: 3 line(s) l1, l2, l3 without supply; meters dark: mt1, ml1, ml2, ml3');
    expect(out.severity).toBe(1);

    // the whole story, in order: the voltage alarms of the four meters are raised and
    // cleared while suppressed, and released to normal 600 s after the supply is back
    const uDevOf = (m: string) => [
      `60 u-deviation:${m} normal→suppressed suppress`,
      `60 u-deviation:${m} suppressed→suppressed raise`,
    ];
    expect(brief(journal)).toEqual([
      '12 outage:s1/t1 normal→unack_active raise',
      ...['mt1', 'ml1', 'ml2', 'ml3'].flatMap(uDevOf),
      '405 outage:s1/t1 unack_active→unack_rtn clear',
      ...['mt1', 'ml1', 'ml2', 'ml3'].map((m) => `720 u-deviation:${m} suppressed→suppressed clear`),
      ...['mt1', 'ml1', 'ml2', 'ml3'].map((m) => `1005 u-deviation:${m} suppressed→normal unsuppress`),
    ]);
  });

  it('one line meter dark beside live ones → an outage of that line on the meter, not of the transformer', () => {
    const { journal, alarms } = world((m, s) => (m === 'ml2' && s >= 10 && s < 100 ? 0 : 220), 120);
    expect(brief(journal.filter(annunciates))).toEqual(['12 outage:ml2 normal→unack_active raise']);
    expect(alarms.get('outage:ml2')).toMatchObject({
      message: 'outage of line L2 (l2): meter ml2 lost all phase voltages while transformer s1/t1 has supply',
      detail: { scope: 'meter', lines: ['l2'], meters: ['ml2'], transformer: 't1' },
    });
    expect(alarms.has('outage:s1/t1')).toBe(false);
  });

  it('the transformer meter dark while its lines are live → a meter fault, not an outage', () => {
    const { alarms } = world((m, s) => (m === 'mt1' && s >= 10 ? 0 : 220), 30);
    expect([...alarms.keys()]).toEqual(['outage:mt1']);
    expect(alarms.get('outage:mt1')!.message).toBe("transformer meter mt1 reads no voltage while lines of s1/t1 have supply: check the meter's voltage circuit");
  });

  it('a line goes dark first, then the whole transformer: the line alarm folds into the transformer alarm', () => {
    const underT1 = new Set(['mt1', 'ml1', 'ml2', 'ml3']);
    const { journal } = world((m, s) => ((m === 'ml1' && s >= 10) || (underT1.has(m) && s >= 30) ? 0 : 220), 40);
    expect(brief(journal)).toEqual([
      '12 outage:ml1 normal→unack_active raise',
      '32 outage:ml1 unack_active→suppressed suppress',
      '32 outage:s1/t1 normal→unack_active raise',
      '32 outage:ml1 suppressed→suppressed clear',
    ]);
  });

  it('one meter dark while the others do not answer: by default not a transformer outage; with minDarkShare it is', () => {
    const feed: Feed = (m, s) => (m === 'ml2' && s >= 10 ? 0 : ['mt1', 'ml1', 'ml3'].includes(m) && s >= 10 ? undefined : 220);
    const strict = world(feed, 30);
    expect([...strict.alarms.keys()]).toEqual(['outage:ml2']);
    const lenient = world(feed, 30, { ...outageRule, minDarkShare: 0.25 });
    expect([...lenient.alarms.keys()]).toEqual(['outage:s1/t1']);
    expect(lenient.alarms.get('outage:s1/t1')!.detail).toMatchObject({ meters: ['ml2'], unknownMeters: ['mt1', 'ml1', 'ml3'] });
  });

  it('meters that stop answering are not dark unless commLossIsDark', () => {
    const underT1 = new Set(['mt1', 'ml1', 'ml2', 'ml3']);
    const feed: Feed = (m, s) => (underT1.has(m) && s >= 10 ? undefined : 220);
    expect(world(feed, 30).alarms.size).toBe(0);
    const selfPowered = world(feed, 30, { ...outageRule, commLossIsDark: true });
    expect([...selfPowered.alarms.keys()]).toEqual(['outage:s1/t1']);
  });

  it('correlateOutages is a function of states and topology only', () => {
    const states = new Map<string, RuleState>();
    for (const m of METERS) {
      let st: RuleState | undefined;
      for (let s = 0; s < 5; s++) st = step(st, { ts: T0 + s * S, values: { ua: m === 'mt2' || m === 'ml4' ? 0 : 230 }, q: 'good' }, outageRule, T0 + s * S).state;
      states.set(m, st!);
    }
    const c = correlateOutages(states, topology, outageRule, T0 + 5 * S);
    expect(c.conditions.map((x) => [x.alarmId, x.scope, x.lines, x.meters])).toEqual([['outage:s1/t2', 'transformer', ['l4'], ['mt2', 'ml4']]]);
    expect(c.suppress.map((x) => x.source)).toEqual(['mt2', 'ml4']);
  });
});

describe('lost agent', () => {
  const places = agentPlaces(topology);
  const rules = () => [{ id: 'comm-loss', severity: 3 as const }];
  const none = new Set<string>();

  it('an offline agent → ONE raise on the agent listing its room and devices; its devices are suppressed', () => {
    const ops = planAgentOps(new Map(), places, new Set(['a1']), none, rules);
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ op: 'raise', alarmId: 'comm-loss:a1', level: 'agent_offline', detail: { agent: 'a1', rooms: [{ site: 's1', room: 'r1' }] } });
    const devices = places.get('a1')!.devices;
    expect(agentSuppressions(topology, ['a1']).map((s) => s.source)).toEqual(devices);
    // back online: the devices not yet heard from stay suppressed, with another reason
    const settling = agentSuppressions(topology, [], [devices[1]!]);
    expect(settling.map((s) => s.source)).toEqual([devices[1]]);
    expect(settling[0]!.reason).toMatch(/back online, the device not yet heard from/);
    expect(agentSuppressions(topology, [], [])).toEqual([]);
  });

  it('its alarm clears only once the agent is known online (not while its presence is unknown, e.g. after a restart)', () => {
    const r = applyOp(undefined, planAgentOps(new Map(), places, new Set(['a1']), none, rules)[0]!, T0);
    const alarms = new Map([['comm-loss:a1', r.ok ? r.alarm! : (undefined as never)]]);
    expect(planAgentOps(alarms, places, none, none, rules)).toEqual([]);
    expect(planAgentOps(alarms, places, none, new Set(['a1']), rules)).toEqual([{ op: 'clear', alarmId: 'comm-loss:a1' }]);
    expect(planAgentOps(alarms, places, none, new Set(['a1']), () => [])).toEqual([]);
  });
});
