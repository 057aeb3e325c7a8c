/**
 * A month replayed for four supply stations with the shipped model
 * (config/risk.yaml): daily events (repair calls, outages, alarms and their
 * acknowledgement, one-key calls, voltage) are summed over the model's
 * window each day and scored with the state the day before left. Injected
 * problems — many repair calls at one station, slow acknowledgement at
 * another, frequent outages on one feeder of a third — give the expected
 * codes and driving indicators; the healthy station stays green; no station
 * flips back and forth.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRiskModel, scoreDays, type IndicatorValues, type RiskModel, type StationRisk } from '../../server/risk/index.ts';

const SHIPPED = fileURLToPath(new URL('../../config/risk.yaml', import.meta.url));
const DAYS = 30;

/** what happened at a station on one day */
interface DayEvents {
  repairCalls: number;
  /** fault outages: customers affected and hours each, and the feeder */
  outages: { feeder: string; customers: number; hours: number }[];
  /** minutes to acknowledge each alarm; null → never acknowledged */
  acks: (number | null)[];
  oneKeyAnswerS: number[];
  voltagePct: number;
}

interface Station {
  customers: number;
  day: (d: number) => DayEvents;
}

const quiet = (d: number): DayEvents => ({
  repairCalls: d === 5 || d === 20 ? 1 : 0,
  outages: d === 14 ? [{ feeder: 'f1', customers: 120, hours: 1 }] : [],
  acks: [2, 4],
  oneKeyAnswerS: d % 10 === 3 ? [20] : [],
  voltagePct: 99.8,
});

const STATIONS: Record<string, Station> = {
  // a healthy station
  healthy: { customers: 2000, day: quiet },
  // many repair calls from day 6 on (1–2 a day), some from the faults behind them
  calls: {
    customers: 2000,
    day: (d) => ({
      ...quiet(d),
      repairCalls: d >= 6 ? 1 + (d % 3 === 0 ? 1 : 0) : 0,
      outages: d === 9 || d === 20 ? [{ feeder: 'f2', customers: 60, hours: 1 }] : [],
    }),
  },
  // alarms acknowledged after ~45 min from day 5 on, one every fourth day never acknowledged
  slow: {
    customers: 2000,
    day: (d) => ({ ...quiet(d), acks: d >= 5 ? [45, d % 4 === 0 ? null : 50] : [2, 4] }),
  },
  // one feeder of 320 customers out for 2 h every third day from day 3 on
  outages: {
    customers: 6000,
    day: (d) => ({
      ...quiet(d),
      repairCalls: d >= 3 && d % 3 === 0 ? 1 : 0,
      outages: d >= 3 && d % 3 === 0 ? [{ feeder: 'f7', customers: 320, hours: 2 }] : [],
    }),
  },
};

/** The indicators of one station on day `d`: events of the `window` days ending with d. */
function indicatorsOn(s: Station, d: number, window: number): IndicatorValues {
  const days = Array.from({ length: Math.min(window, d + 1) }, (_, k) => s.day(d - k));
  const outages = days.flatMap((e) => e.outages);
  const perFeeder = new Map<string, { n: number; customers: number }>();
  for (const o of outages) {
    const f = perFeeder.get(o.feeder) ?? { n: 0, customers: o.customers };
    f.n++;
    perFeeder.set(o.feeder, f);
  }
  const acks = days.flatMap((e) => e.acks);
  const acked = acks.filter((a): a is number => a !== null);
  const answers = days.flatMap((e) => e.oneKeyAnswerS);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    'repair-calls-per-1000': (sum(days.map((e) => e.repairCalls)) / s.customers) * 1000,
    'fault-outages': outages.length,
    'customer-hours': sum(outages.map((o) => o.customers * o.hours)),
    // customers with three or more outages in the window
    'frequent-outage-customers': sum([...perFeeder.values()].filter((f) => f.n >= 3).map((f) => f.customers)),
    'notices-late-or-wrong': 0,
    'ack-time-mean': acked.length > 0 ? sum(acked) / acked.length : null,
    // escalated: not acknowledged within 30 min
    escalations: acks.filter((a) => a === null || a > 30).length,
    'unacknowledged-alarms': acks.filter((a) => a === null).length,
    'one-key-calls': answers.length,
    'one-key-answer-time': answers.length > 0 ? sum(answers) / answers.length : null,
    'voltage-qualification': sum(days.map((e) => e.voltagePct)) / days.length,
    'abnormal-loss-areas': 0,
  };
}

function replay(model: RiskModel): Record<string, StationRisk[]> {
  return Object.fromEntries(
    Object.entries(STATIONS).map(([id, s]) => [id, scoreDays(model, Array.from({ length: DAYS }, (_, d) => indicatorsOn(s, d, model.windowDays)))]),
  );
}

describe('a month of four stations', () => {
  it('injected problems give the expected codes and driving indicators', async () => {
    const model = await loadRiskModel(SHIPPED);
    const month = replay(model);
    const last = (id: string) => month[id]![DAYS - 1]!;
    const summary = Object.fromEntries(Object.keys(STATIONS).map((id) => [id, { code: last(id).code, driving: last(id).driving }]));
    expect(summary).toEqual({
      healthy: { code: 'green', driving: last('healthy').driving },
      calls: { code: 'yellow', driving: 'repair-calls-per-1000' },
      slow: { code: 'yellow', driving: 'ack-time-mean' },
      outages: { code: 'red', driving: 'frequent-outage-customers' },
    });
    // every station starts green, and no station goes back and forth: once raised the code never falls
    for (const [id, days] of Object.entries(month)) {
      expect(days[0]!.code, id).toBe('green');
      const rank = days.map((d) => ['green', 'yellow', 'red'].indexOf(d.code!));
      expect(rank.every((r, i) => i === 0 || r >= rank[i - 1]!), `${id}: ${days.map((d) => d.code).join(' ')}`).toBe(true);
    }
    expect(month.healthy!.every((d) => d.code === 'green')).toBe(true);
    // the indicator without an input is reported "not available", those without values here "no data": none is invented
    expect(last('calls').indicators.find((x) => x.id === 'complaints')).toMatchObject({ status: 'not-available', value: null });
    for (const i of last('calls').indicators.filter((x) => ['heavy-load-hours', 'meter-comm-availability'].includes(x.id)))
      expect(i).toMatchObject({ status: 'no-data', value: null });
    // the outage station's score is carried by the demand dimension
    expect(last('outages').dimensions.demand!).toBeGreaterThan(last('outages').dimensions.handling!);
    expect(last('slow').dimensions.speed!).toBeGreaterThan(50);
  });
});
