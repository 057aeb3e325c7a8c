/**
 * Supply of each meter from its latest reading (pure): dark when the largest
 * phase voltage of a good reading is below `darkBelowV`, live when above it,
 * unknown when the reading is not good or older than `freshS`. The time a
 * status began is kept across samples.
 */
import type { MeterSupply, OutageOptions } from './types.ts';

export interface LatestReading {
  device: string;
  /** epoch ms of the reading */
  ts: number;
  q: string;
  v: Readonly<Record<string, number | undefined>>;
}

const PHASES = ['ua', 'ub', 'uc'] as const;

export function sampleSupply(prev: MeterSupply | undefined, r: LatestReading | undefined, now: number, opts: Pick<OutageOptions, 'darkBelowV' | 'freshS'>): MeterSupply {
  let status: MeterSupply['status'] = 'unknown';
  let voltage: number | null = null;
  if (r && r.q === 'good' && now - r.ts <= opts.freshS * 1000) {
    for (const p of PHASES) {
      const v = r.v[p];
      if (typeof v === 'number' && Number.isFinite(v) && (voltage === null || v > voltage)) voltage = v;
    }
    if (voltage !== null) status = voltage < opts.darkBelowV ? 'dark' : 'live';
  }
  // a dark meter seen dark at its reading's time: the status began then, not at this sample
  const since = prev && prev.status === status ? prev.since : status === 'dark' && r ? Math.min(now, r.ts) : now;
  return { status, since, voltage: voltage === null ? null : Math.round(voltage * 10) / 10, at: r?.ts ?? null };
}
