/**
 * The built-in `door-open` rule (kind off_hours): a distribution-room door
 * open outside working hours (08:00–18:00 Monday to Friday, China Standard
 * Time) raises at the report that shows it; open during working hours does
 * not; a door left open past 18:00 raises at its next report; closing clears.
 */
import { describe, expect, it } from 'vitest';
import { parseRules, type Rule } from '../../server/rules/index.ts';
import { inWorkingHours, type OffHoursRule } from '../../server/rules/kinds/off-hours.ts';
import { brief, drive, rule } from './helpers.ts';

const MIN = 60_000;
/** Monday 2025-06-02 00:00 in China (UTC+8) */
const MON = Date.UTC(2025, 5, 1, 16, 0);

function doorRule(): Rule {
  const r = parseRules({});
  if (!r.ok) throw new Error('defaults');
  return r.rules.find((x) => x.id === 'door-open')!;
}

describe('door-open (off_hours)', () => {
  it('working hours are 08:00–18:00 Monday to Friday in +08:00', () => {
    const r = doorRule() as OffHoursRule;
    expect(inWorkingHours(r, MON + 8 * 60 * MIN)).toBe(true);
    expect(inWorkingHours(r, MON + 8 * 60 * MIN - 1)).toBe(false);
    expect(inWorkingHours(r, MON + 18 * 60 * MIN)).toBe(false);
    // Saturday noon
    expect(inWorkingHours(r, MON + 5 * 24 * 60 * MIN + 12 * 60 * MIN)).toBe(false);
    // a night shift spans midnight
    const night = rule<OffHoursRule>({ id: 'n', kind: 'off_hours', hours: { start: '22:00', end: '06:00' }, days: [1, 2, 3, 4, 5, 6, 7] });
    expect(inWorkingHours(night, MON + 23 * 60 * MIN)).toBe(true);
    expect(inWorkingHours(night, MON + 7 * 60 * MIN)).toBe(false);
  });

  it('open at 02:00 raises at that report and clears at the report that it is shut; open at 10:00 raises nothing', () => {
    const r = doorRule();
    const t = MON + 2 * 60 * MIN;
    const night = drive(r, [
      { t, values: { door: 0 } },
      { t: t + MIN, values: { door: 1 } },
      { t: t + 2 * MIN, values: { door: 1 } },
      { t: t + 3 * MIN, values: { door: 0 } },
      { t: t + 3 * MIN + 10_000, values: { door: 0 } },
    ]);
    // offDelayS 5: the shut door clears at the next report or tick after 5 s
    expect(brief(night.events, t)).toEqual([
      ['active', 'off_hours', MIN],
      ['inactive', 'off_hours', 3 * MIN + 10_000],
    ]);
    const day = MON + 10 * 60 * MIN;
    expect(drive(r, [{ t: day, values: { door: 1 } }, { t: day + MIN, values: { door: 1 } }]).events).toEqual([]);
  });

  it('a door left open past 18:00 raises at its first report after 18:00', () => {
    const r = doorRule();
    const t = MON + 17 * 60 * MIN + 58 * MIN;
    const { events } = drive(r, [0, 1, 2, 3].map((i) => ({ t: t + i * MIN, values: { door: 1 } })));
    expect(brief(events, t)).toEqual([['active', 'off_hours', 2 * MIN]]);
  });

  it('refuses equal start and end with working days, and a time that is no HH:MM', () => {
    expect(parseRules({ useDefaults: false, rules: [{ id: 'x', kind: 'off_hours', hours: { start: '08:00', end: '08:00' } }] }).ok).toBe(false);
    const bad = parseRules({ useDefaults: false, rules: [{ id: 'x', kind: 'off_hours', hours: { start: '8am' } }] });
    expect(!bad.ok && bad.errors[0]!.message).toContain('HH:MM');
  });
});
