/**
 * The `energy` block of the server configuration (docs/energy.md,
 * Configuration): intervals, zones, completeness tolerance, resets.
 */
import { z } from 'zod';
import { parseUtcOffset } from './intervals.ts';

const utcOffset = z.string().refine((s) => parseUtcOffset(s) !== null, { message: 'must be a UTC offset like +08:00, -05:30 or Z' });

export const EnergyConfigSchema = z.strictObject({
  /** compute line loss on a schedule (the REST routes answer either way) */
  enabled: z.boolean().default(true),
  /** zone of the intervals (days at local midnight) for sites not in siteUtcOffsets */
  utcOffset: utcOffset.default('+08:00'),
  /** site id → its zone */
  siteUtcOffsets: z.record(z.string(), utcOffset).default({}),
  /** a boundary's counter value comes from readings at most this far from it, s */
  toleranceS: z.number().positive().max(3600).default(120),
  /** an interval is computed this long after its end plus the tolerance: late readings still arriving, s */
  graceS: z.number().min(0).max(86_400).default(60),
  /** a counter that goes back to at most this many kWh restarted from zero (reset); above it, from an unknown value (replaced) */
  resetMaxKwh: z.number().min(0).default(10),
  /** a counter at or above (1 − band)·10ⁿ going back to at most band·10ⁿ rolled over at 10ⁿ */
  rolloverBand: z.number().gt(0).lt(0.5).default(0.01),
  /** at start, this many closed 15-min intervals back are computed (hours and the day they fall in too) */
  catchUpIntervals: z.number().int().min(0).max(672).default(4),
  /** how often the schedule looks for closed intervals and the live estimate is refreshed, s */
  checkS: z.number().positive().max(600).default(20),
}).prefault({});

export type EnergyConfig = z.infer<typeof EnergyConfigSchema>;
