/** Faults as pure functions of the model's values and time; the unit's answers under each; scenario files and their timeline. */
import { describe, expect, it } from 'vitest';
import {
  applyElectricalFaults,
  createMeterModel,
  dueEvents,
  handlePdu,
  loadScenario,
  MeterUnit,
  registerMapOf,
  SimulatorError,
  type ActiveFault,
  type Fault,
  type MeterValues,
} from '../../simulators/index.ts';

const T0 = Date.UTC(2026, 0, 7, 4, 0, 0);
const base = (): MeterValues => createMeterModel({ profile: 'commercial', seed: 5 }).sample(T0);
const on = (fault: Fault, since = T0): ActiveFault[] => [{ fault, since }];

describe('electrical faults', () => {
  it('no fault: the very same values', () => {
    const v = base();
    expect(applyElectricalFaults(v, [], T0)).toBe(v);
  });

  it('sag and swell scale the phase voltages (all, or the phases named), line-line follows', () => {
    const v = base();
    const sag = applyElectricalFaults(v, on({ kind: 'sag', depth: 0.8 }), T0);
    expect(sag.ua).toBeCloseTo(v.ua * 0.8, 9);
    expect(sag.uab).toBeCloseTo(Math.sqrt(sag.ua ** 2 + sag.ub ** 2 + sag.ua * sag.ub), 9);
    const one = applyElectricalFaults(v, on({ kind: 'sag', depth: 0.5, phases: ['b'] }), T0);
    expect([one.ua, one.ub, one.uc]).toEqual([v.ua, v.ub * 0.5, v.uc]);
    expect(applyElectricalFaults(v, on({ kind: 'swell' }), T0).uc).toBeCloseTo(v.uc * 1.12, 9);
  });

  it('phase loss: that phase dead, the others untouched, totals re-derived', () => {
    const v = base();
    const f = applyElectricalFaults(v, on({ kind: 'phase_loss', phase: 'c' }), T0);
    expect([f.uc, f.ic, f.pc, f.qc]).toEqual([0, 0, 0, 0]);
    expect([f.ua, f.ia, f.pa]).toEqual([v.ua, v.ia, v.pa]);
    expect(f.p).toBeCloseTo(v.pa + v.pb, 9);
    expect(f.in).toBeGreaterThan(v.in); // the neutral carries the imbalance
  });

  it('outage: every voltage, current and power zero, frequency zero', () => {
    const f = applyElectricalFaults(base(), on({ kind: 'outage' }), T0);
    for (const q of ['ua', 'ub', 'uc', 'uab', 'ia', 'ib', 'ic', 'in', 'p', 'q', 's', 'f'] as const) expect(f[q], q).toBe(0);
    expect(f.pf).toBe(0);
  });

  it('overload ramps from normal to factor × normal over rampS, and voltage drops with it', () => {
    const v = base();
    const half = applyElectricalFaults(v, on({ kind: 'overload', factor: 1.4, rampS: 60 }, T0), T0 + 30_000);
    expect(half.p / v.p).toBeCloseTo(1.2, 6);
    const full = applyElectricalFaults(v, on({ kind: 'overload', factor: 1.4, rampS: 60 }, T0), T0 + 600_000);
    expect(full.ia / v.ia).toBeCloseTo(1.4, 6);
    expect(full.ua).toBeLessThan(v.ua);
  });

  it('unbalance: phase A carries more, C less, B as it was', () => {
    const v = base();
    const f = applyElectricalFaults(v, on({ kind: 'unbalance', percent: 30 }), T0);
    expect(f.ia / v.ia).toBeCloseTo(1.3, 9);
    expect(f.ib).toBe(v.ib);
    expect(f.ic / v.ic).toBeCloseTo(0.7, 9);
  });
});

describe('a unit under faults', () => {
  const read = Buffer.from([3, 0x20, 0x00, 0x00, 0x02]); // FC 03, 0x2000 + 2
  const mk = (clock: () => number, random = () => 0.5) => new MeterUnit(1, createMeterModel({ profile: 'feeder', seed: 1 }), registerMapOf('dtsu666'), clock, random);

  it('answers data; dead is silence; slow is a delay; exception is the code asked for', () => {
    let now = T0;
    const u = mk(() => now);
    expect(u.answer(read)).toMatchObject({ kind: 'answer', delayMs: 0 });
    u.setFault({ kind: 'dead' });
    expect(u.answer(read)).toEqual({ kind: 'silent' });
    u.clearFault('dead');
    u.setFault({ kind: 'slow', delayMs: 750 });
    expect(u.answer(read)).toMatchObject({ kind: 'answer', delayMs: 750 });
    u.setFault({ kind: 'exception', code: 6 });
    const a = u.answer(read);
    expect(a.kind === 'answer' && [...a.pdu]).toEqual([0x83, 6]);
    u.clearFault();
    expect(u.faults()).toEqual([]);
    now += 1;
  });

  it('a fault with a duration ends by itself', () => {
    let now = T0;
    const u = mk(() => now);
    u.setFault({ kind: 'dead' }, 10_000);
    now += 9_999;
    expect(u.answer(read).kind).toBe('silent');
    now += 1;
    expect(u.answer(read).kind).toBe('answer');
  });

  it('garbage and exceptions come with their probability', () => {
    let r = 0.3;
    const u = mk(() => T0, () => r);
    u.setFault({ kind: 'garbage', mode: 'corrupt', probability: 0.25 });
    const clean = u.answer(read);
    expect(clean.kind === 'answer' && clean.garbage).toBeUndefined();
    r = 0.2;
    expect(u.answer(read)).toMatchObject({ garbage: 'corrupt' });
  });

  it('frozen values stay where they were; an outage stops the energy counters', () => {
    let now = T0;
    const u = mk(() => now);
    u.values(now);
    u.setFault({ kind: 'frozen' });
    const f = u.values(now);
    now += 3_600_000;
    expect(u.values(now)).toEqual(f);
    u.clearFault('frozen');
    const moving = u.values(now);
    expect(moving.ep_imp).toBeGreaterThan(f.ep_imp);
    u.setFault({ kind: 'outage' });
    now += 3_600_000;
    const dark = u.values(now);
    expect(dark.ua).toBe(0);
    expect(dark.ep_imp).toBeCloseTo(moving.ep_imp, 6);
    u.clearFault('outage');
    now += 60_000;
    const back = u.values(now);
    expect(back.ep_imp).toBeGreaterThan(moving.ep_imp);
    expect(back.ep_imp - moving.ep_imp).toBeLessThan(50); // one minute of load, not the dark hour
  });

  it('a fault with nonsense parameters is refused', () => {
    const u = mk(() => T0);
    expect(() => u.setFault({ kind: 'sag', depth: 3 })).toThrow(SimulatorError);
    expect(() => u.setFault({ kind: 'phase_loss', phase: 'd' as 'a' })).toThrow(/phase/);
  });

  it('the PDU handler: reads served, writes and unknown functions refused as illegal function', () => {
    const map = registerMapOf('sdm630');
    const values = () => createMeterModel({ profile: 'feeder' }).sample(T0);
    expect(handlePdu(map, values, Buffer.from([4, 0, 0, 0, 2]))[1]).toBe(4);
    expect([...handlePdu(map, values, Buffer.from([6, 0, 0, 0, 1]))]).toEqual([0x86, 1]);
    expect([...handlePdu(map, values, Buffer.from([0x2b, 0x0e, 1, 0]))]).toEqual([0xab, 1]);
    expect([...handlePdu(map, values, Buffer.from([4, 0, 0, 0, 200]))]).toEqual([0x84, 3]);
    expect([...handlePdu(map, values, Buffer.from([3, 0, 0]))]).toEqual([0x83, 3]);
  });
});

describe('scenario files', () => {
  const valid = {
    gateways: [{ id: 'gw-1', tcp: { port: 0 }, units: [{ unit: 1, type: 'em24', load: 'feeder' }, { unit: 2 }] }],
    mqtt: { url: 'mqtt://127.0.0.1:1883' },
    sensors: [{ id: 'door-1', kind: 'door' }],
    timeline: {
      repeatS: 100,
      events: [
        { atS: 0, gateway: 'gw-1', unit: 2, fault: { kind: 'dead' }, durationS: 5 },
        { atS: 40, sensor: 'door-1', set: { contact: false }, durationS: 10 },
        { atS: 70, gateway: 'gw-1', unit: 1, fault: { kind: 'overload', factor: 1.3 } },
      ],
    },
  };

  it('fills defaults', () => {
    const s = loadScenario(valid);
    expect(s.gateways[0]!.units[1]).toEqual({ unit: 2, type: 'dtsu666', load: 'residential' });
    expect(s.gateways[0]!.tcp).toEqual({ host: '127.0.0.1', port: 0 });
    expect(s.sensors[0]).toMatchObject({ intervalMs: 5000 });
  });

  it('lists every problem with its path', () => {
    let err: SimulatorError | undefined;
    try {
      loadScenario({
        gateways: [
          { id: 'gw-1', tcp: { port: 0 }, rtu: { path: '/dev/x' }, units: [{ unit: 1 }, { unit: 1, type: 'pm9000' }] },
          { id: 'gw-1', tcp: { port: 0 }, units: [{ unit: 300 }] },
        ],
        sensors: [{ id: 's', kind: 'door' }],
        timeline: { events: [{ atS: 1, gateway: 'gw-9', unit: 1, fault: { kind: 'sag', depth: 2 } }], colour: 'red' },
      });
    } catch (e) {
      err = e as SimulatorError;
    }
    expect(err?.code).toBe('GW_ERR_SIM_CONFIG_INVALID');
    const issues = err!.issues.join('\n');
    expect(issues).toMatch(/gateways\[0\]: give exactly one of tcp and rtu/);
    expect(issues).toMatch(/gateways\[0\]\.units\[1\]\.type: /);
    expect(issues).toMatch(/gateways\[1\]\.units\[0\]\.unit: /);
    expect(issues).toMatch(/timeline\.colour: unknown key/);
    expect(issues).toMatch(/timeline\.events\[0\]/);
    // cross checks run once the document is well-formed
    const cross = (() => {
      try {
        loadScenario({ ...valid, sensors: [], mqtt: undefined, gateways: [...valid.gateways, { ...valid.gateways[0]!, units: [{ unit: 1 }, { unit: 1 }] }], timeline: { repeatS: 50, events: [{ atS: 60, gateway: 'gw-1', unit: 9, fault: { kind: 'dead' } }] } });
      } catch (e) {
        return (e as SimulatorError).issues;
      }
      return [];
    })();
    expect(cross).toEqual([
      'gateways[1].id: "gw-1" is already gateways[0]',
      'gateways[1].units[1].unit: unit 1 given twice',
      'timeline.events[0].unit: gateway "gw-1" has no unit 9',
      'timeline.events[0].atS: 60 is not before repeatS (50)',
    ]);
  });

  it('the timeline: events fall due in their window, every repetition, in order', () => {
    const s = loadScenario(valid);
    const ev = s.timeline.events;
    const at = (from: number, to: number) => dueEvents(ev, s.timeline.repeatS, from, to).map((d) => d.atMs);
    expect(at(-1, 0)).toEqual([0]); // the first tick takes the event at 0
    expect(at(0, 39_999)).toEqual([]);
    expect(at(0, 40_000)).toEqual([40_000]);
    expect(at(40_000, 250_000)).toEqual([70_000, 100_000, 140_000, 170_000, 200_000, 240_000]);
    expect(dueEvents(ev, undefined, 0, 1e9).map((d) => d.atMs)).toEqual([40_000, 70_000]);
  });
});
