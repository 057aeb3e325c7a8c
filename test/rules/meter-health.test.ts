/**
 * The metering-device health kinds (计量装置在线监测) as the built-in rules
 * configure them, on replayed meter feeds: each raised and cleared at the
 * exact reading (or tick) its criterion says, and not raised by the look-alike
 * that is no fault (no current, a dark supply, a PV export left out, a
 * register that legitimately rests).
 */
import { describe, expect, it } from 'vitest';
import type { Values } from '../../contract/index.ts';
import { parseRules, type Rule } from '../../server/rules/index.ts';
import { T0, brief, drive, rule, type Sample } from './helpers.ts';

const S = 1000;

function builtIn(id: string): Rule {
  const r = parseRules({});
  if (!r.ok) throw new Error('defaults');
  const found = r.rules.find((x) => x.id === id);
  if (!found) throw new Error(`no default ${id}`);
  return found;
}

/** one reading every 10 s from T0, values by index */
function feed(n: number, values: (i: number) => Values): Sample[] {
  return Array.from({ length: n }, (_, i) => ({ t: T0 + i * 10 * S, values: values(i) }));
}

const normal: Values = { ua: 221, ub: 220, uc: 222, ia: 12, ib: 11, ic: 13, p: 8, pa: 2.6, pb: 2.5, pc: 2.9 };

describe('voltage_loss (失压)', () => {
  it('phase B below 78 % with current for 60 s raises at the reading that completes the minute; back above 85 % clears at that reading', () => {
    const r = builtIn('meter-voltage-loss');
    // readings 3..14: ub 40 V while ib flows; 15: 180 V (82 %, still under 85 %); 16: 200 V
    const samples = feed(20, (i) => (i >= 3 && i <= 14 ? { ...normal, ub: 40 } : i === 15 ? { ...normal, ub: 180 } : normal));
    const { events } = drive(r, samples);
    expect(brief(events)).toEqual([
      ['active', 'voltage_loss', 90 * S],
      ['inactive', 'voltage_loss', 160 * S],
    ]);
    expect(events[0]).toMatchObject({ value: 40, limit: 171.6, severity: 3 });
    expect(events[0]!.message).toContain('phase B');
  });

  it('every phase low while current flows is the supply\'s undervoltage (u-deviation), not the meter\'s voltage loss', () => {
    const r = builtIn('meter-voltage-loss');
    expect(drive(r, feed(20, (i) => (i >= 3 ? { ...normal, ua: 168, ub: 169, uc: 170 } : normal))).events).toEqual([]);
    // a single-phase meter cannot tell the two apart: the criterion as it stands
    expect(drive(r, feed(20, (i) => ({ ua: i >= 3 ? 150 : 220, ia: 10 }))).events.map((e) => e.to)).toEqual(['active']);
  });

  it('no current on the phase, or the whole supply dark, is no voltage loss', () => {
    const r = builtIn('meter-voltage-loss');
    const noCurrent = feed(20, (i) => (i >= 3 ? { ...normal, ub: 0, ib: 0 } : normal));
    expect(drive(r, noCurrent).events).toEqual([]);
    const dark = feed(20, (i) => (i >= 3 ? { ua: 0, ub: 0, uc: 0, ia: 0, ib: 0, ic: 0, p: 0 } : normal));
    expect(drive(r, dark).events).toEqual([]);
  });

  it('a tick completes the on-delay while the last reading still holds', () => {
    const r = rule({ id: 'v', kind: 'voltage_loss', onDelayS: 60, holdS: 300 });
    const { events } = drive(r, [{ t: T0, values: { ...normal, ua: 10 } }], { tickMs: S, until: T0 + 120 * S });
    expect(brief(events)).toEqual([['active', 'voltage_loss', 60 * S]]);
  });
});

describe('current_loss (失流)', () => {
  it('phase C without current while A and B carry load and C has voltage: raised after 60 s, cleared at the reading its current returns', () => {
    const r = builtIn('meter-current-loss');
    const samples = feed(20, (i) => (i >= 2 && i <= 12 ? { ...normal, ic: 0 } : normal));
    expect(brief(drive(r, samples).events)).toEqual([
      ['active', 'current_loss', 80 * S],
      ['inactive', 'current_loss', 130 * S],
    ]);
  });

  it('no load on any phase, or no voltage on the phase, is no current loss; a single-phase meter cannot tell', () => {
    const r = builtIn('meter-current-loss');
    expect(drive(r, feed(20, () => ({ ...normal, ia: 0.01, ib: 0.02, ic: 0 }))).events).toEqual([]);
    expect(drive(r, feed(20, () => ({ ...normal, uc: 5, ic: 0 }))).events).toEqual([]);
    expect(drive(r, feed(20, () => ({ ua: 220, ia: 0 }))).events).toEqual([]);
  });
});

describe('reverse_flow (潮流反向)', () => {
  it('one phase reversed for 60 s raises (a reversed CT while the total is still forward); forward for 60 s clears', () => {
    const r = builtIn('meter-reverse-flow');
    const samples = feed(30, (i) => (i >= 5 && i <= 14 ? { ...normal, pb: -2.5, p: 3 } : normal));
    const { events } = drive(r, samples);
    expect(brief(events)).toEqual([
      ['active', 'reverse_flow', 110 * S],
      ['inactive', 'reverse_flow', 210 * S],
    ]);
    expect(events[0]).toMatchObject({ value: -2.5, limit: -0.1 });
    expect(events[0]!.message).toContain('pb');
  });

  it('is scoped to line meters: a transformer meter with PV behind it is not judged', () => {
    const r = builtIn('meter-reverse-flow');
    expect(r.scope).toEqual({ role: ['line'] });
  });
});

describe('counter_stuck (停走)', () => {
  it('8 kW implies 0.0222 kWh per 10-s reading: raised at the reading the implied energy reaches 1 kWh, cleared when the register moves', () => {
    const r = builtIn('meter-counter-stuck');
    // the register counts in 0.02-kWh steps to reading 10, stays at 1000.2 kWh to reading 60: 1 kWh 45 intervals after reading 10
    const samples = feed(70, (i) => ({ ...normal, ep_imp: i <= 10 ? 1000 + i * 0.02 : i <= 60 ? 1000.2 : 1000.2 + (i - 60) * 0.02 }));
    const { events } = drive(r, samples);
    expect(brief(events)).toEqual([
      ['active', 'counter_stuck', 550 * S],
      ['inactive', 'counter_stuck', 610 * S],
    ]);
    expect(events[0]!.value).toBeCloseTo(1, 3);
  });

  it('a coarse register (a float32 of millions of kWh moves in 2-kWh steps) is not stuck between its steps', () => {
    const r = builtIn('meter-counter-stuck');
    // 80 kW: 2 kWh every 90 s; the register shows each step at once
    const samples = feed(200, (i) => ({ ...normal, p: 80, ep_imp: 8_000_000 + 2 * Math.floor(i / 9) }));
    expect(drive(r, samples).events).toEqual([]);
  });

  it('a register that rests while no power flows is not stuck', () => {
    const r = builtIn('meter-counter-stuck');
    expect(drive(r, feed(200, () => ({ ...normal, p: 0, ep_imp: 1000 }))).events).toEqual([]);
    // a register that moves every few readings never reaches the limit
    expect(drive(r, feed(200, (i) => ({ ...normal, ep_imp: 1000 + Math.floor(i / 5) * 0.1 }))).events).toEqual([]);
  });
});

describe('counter_backwards (示值下降)', () => {
  it('raised at the reading the register goes back; cleared at the first reading 600 s after it counts forward again', () => {
    const r = builtIn('meter-counter-backwards');
    const samples = feed(90, (i) => ({ ...normal, ep_imp: i < 20 ? 500 + i * 0.02 : 12 + i * 0.02, ep_exp: 3 }));
    const { events } = drive(r, samples);
    expect(brief(events)).toEqual([
      ['active', 'counter_backwards', 200 * S],
      // forward from reading 21 (210 s): 600 s later
      ['inactive', 'counter_backwards', 810 * S],
    ]);
    expect(events[0]!.value).toBeCloseTo(-487.98, 2);
  });

  it('the same value again, or a step within one register unit, is not backwards', () => {
    const r = builtIn('meter-counter-backwards');
    expect(drive(r, feed(20, (i) => ({ ep_imp: 500 - (i % 2) * 0.005 }))).events).toEqual([]);
  });
});

describe('meter-clock-drift (threshold on clock_offset)', () => {
  it('raised at the reading whose meter clock is more than 300 s off; cleared at the first one back inside by the deadband', () => {
    const r = builtIn('meter-clock-drift');
    // the clock is read every 10 min; values of the readings in between carry no clock_offset
    const samples: Sample[] = [12, 250, 310, 320, 200, -5].map((o, k) => ({ t: T0 + k * 600 * S, values: { ua: 220, clock_offset: o } }));
    samples.splice(3, 0, { t: T0 + 1500 * S, values: { ua: 221 } });
    const { events } = drive(r, samples);
    expect(brief(events)).toEqual([
      ['active', 'hi', 1200 * S],
      ['inactive', 'hi', 2400 * S],
    ]);
    expect(drive(r, [{ t: T0, values: { clock_offset: -400 } }]).events.map((e) => e.level)).toEqual(['lo']);
  });
});

describe('meter-phase-sequence (threshold on phase_seq_rev)', () => {
  it('raised at the reading whose status word says reverse sequence; cleared at the first one saying normal; readings without it change nothing', () => {
    const r = builtIn('meter-phase-sequence');
    // status word 7 read every minute; the readings in between carry no phase_seq_rev
    const samples: Sample[] = [0, 0, 1, 1, 0].map((b, k) => ({ t: T0 + k * 60 * S, values: { ua: 220, phase_seq_rev: b } }));
    samples.splice(3, 0, { t: T0 + 150 * S, values: { ua: 221 } });
    const { events } = drive(r, samples);
    expect(brief(events)).toEqual([
      ['active', 'hi', 120 * S],
      ['inactive', 'hi', 240 * S],
    ]);
    expect(events[0]).toMatchObject({ severity: 3 });
  });
});
