/**
 * A small grid with known energies for the line-loss tests: meters read
 * every minute, counters rising at constant rates (kWh per hour).
 */
import type { StoredReading } from '../../server/index.ts';

export const H = 3_600_000;
export const MIN = 60_000;
/** 2026-11-02 00:00 in +08:00 */
export const DAY0 = Date.UTC(2026, 10, 1, 16);

export const TOPOLOGY_YAML = `
sites:
  - id: s1
    name: Station 1
    rooms:
      - id: r1
        name: Room 1
        agent: a1
        transformers:
          - { id: t1, name: T1, ratedKva: 630, meter: T1, lines: [{ id: l1, name: L1, meter: L1 }, { id: l2, name: L2, meter: L2 }] }
          - { id: t2, name: T2, ratedKva: 400, meter: T2, lines: [{ id: l3, name: L3, meter: L3 }] }
          - { id: t3, name: T3, ratedKva: 400, meter: T3, lines: [{ id: l5, name: L5, meter: L5 }] }
`;

const PLACE: Record<string, { transformer: string; line: string }> = {
  T1: { transformer: 't1', line: '' }, L1: { transformer: 't1', line: 'l1' }, L2: { transformer: 't1', line: 'l2' },
  T2: { transformer: 't2', line: '' }, L3: { transformer: 't2', line: 'l3' },
  T3: { transformer: 't3', line: '' }, L5: { transformer: 't3', line: 'l5' },
};

/** kWh per hour of each meter: t1 loses 4 %, t2 sells 5 % more than it is supplied, t3 loses 2 % */
export const RATE: Record<string, number> = { T1: 400, L1: 160, L2: 224, T2: 100, L3: 105, T3: 200, L5: 196 };

/** minute (from DAY0) right after whose reading L1's counter restarts from zero */
export const L1_RESET_MIN = 10 * 60 + 6;
/** L5 sends nothing in these minutes (a 20-min gap over the 12:15 boundary) */
export const L5_GAP = [12 * 60 + 5, 12 * 60 + 25] as const;

/** Readings of every meter each minute over [fromMin, toMin] minutes from `t0` (DAY0). */
export function dayReadings(fromMin: number, toMin: number, t0 = DAY0): StoredReading[] {
  const out: StoredReading[] = [];
  for (let m = fromMin; m <= toMin; m++) {
    for (const [device, place] of Object.entries(PLACE)) {
      if (device === 'L5' && m >= L5_GAP[0] && m <= L5_GAP[1]) continue;
      const rate = RATE[device]!;
      let ep = 5000 + (rate * m) / 60;
      if (device === 'L1' && m > L1_RESET_MIN) ep = (rate * (m - L1_RESET_MIN)) / 60;
      out.push({ site: 's1', room: 'r1', ...place, device, ts: t0 + m * MIN, q: 'good', late: false, v: { ep_imp: ep, p: rate } });
    }
  }
  return out;
}
