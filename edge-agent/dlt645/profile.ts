/**
 * DL/T 645 device profiles are data, like the Modbus register maps: which
 * identifiers to read and which canonical quantity each element of a reply
 * becomes. A read of a known identifier takes its format from the standard
 * (identifiers.ts) unless it says otherwise; a vendor identifier must give
 * its format. Validated when loaded, every problem reported at once.
 */
import { z } from 'zod';
import { MEASURED_QUANTITIES, type Quantity } from '../../contract/index.ts';
import { ConfigError } from '../errors.ts';
import { deepFreeze, type DeepReadonly } from '../freeze.ts';
import { formatIssues } from '../issues.ts';
import { dlt645ThreePhaseProfile, dlt645ThreePhaseSingleProfile } from '../profiles/dlt645-three-phase.ts';
import { MAX_DATA_LENGTH } from './frame.ts';
import { knownIdentifier } from './identifiers.ts';
import type { Dlt645Profile, Dlt645ProfileRegistry, Dlt645Read } from './reads.ts';

export { decodeRead, type Dlt645Profile, type Dlt645ProfileRegistry, type Dlt645Read, type ElementResult } from './reads.ts';

const quantity = z.enum(MEASURED_QUANTITIES as [Quantity, ...Quantity[]], {
  error: (iss) => `${JSON.stringify(iss.input)} is not a canonical quantity an agent may send`,
});

export const Dlt645ReadSchema = z.strictObject({
  /** data identifier DI3 DI2 DI1 DI0 as the standard writes it, e.g. "02010100" */
  di: z
    .string()
    .regex(/^[0-9A-Fa-f]{8}$/, 'must be 8 hex digits (DI3 DI2 DI1 DI0), e.g. "02010100"')
    .transform((s) => s.toUpperCase()),
  /** the quantity of each element of the reply in order; null: read, not sent */
  quantities: z.array(quantity.nullable()).min(1).max(16),
  /** bytes per element; default: the standard's for this identifier */
  bytes: z.number().int().min(1).max(8).optional(),
  /** digits after the decimal point; default: the standard's */
  decimals: z.number().int().min(0).max(8).optional(),
  /** the top bit of the element's last byte is a sign; default: the standard's */
  signed: z.boolean().optional(),
  /** send |value| (a 645 current's sign is its direction; the contract's current is a magnitude) */
  magnitude: z.boolean().default(false),
  /** multiplier to the quantity's canonical unit (a meter that reports W where the contract wants kW: 0.001) */
  scale: z.number().refine((x) => Number.isFinite(x) && x !== 0, 'scale must be a finite, non-zero number').default(1),
});

export const Dlt645ProfileSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1–64 letters, digits, _ . -'),
  description: z.string().optional(),
  reads: z.array(Dlt645ReadSchema).min(1).max(64),
  /**
   * Also read the meter's own date and time (04000101, 04000102) at most every
   * `everyS` and send the meter's clock minus the agent's as `clock_offset`
   * (s); `utcOffsetMin` is the zone the meter keeps (480, China Standard Time).
   */
  clock: z
    .strictObject({ everyS: z.number().int().min(1).max(86_400).default(600), utcOffsetMin: z.number().int().min(-720).max(840).default(480) })
    .optional(),
  /**
   * Also read the meter's running status word 7 (04000507, 合相故障状态) at
   * most every `everyS` and send its bit 0 (电压逆相序, voltages in reverse
   * phase sequence) as `phase_seq_rev` (0 or 1). A meter that refuses it is
   * not asked again.
   */
  status: z.strictObject({ everyS: z.number().int().min(1).max(86_400).default(60) }).optional(),
});

export type Dlt645ProfileInput = z.input<typeof Dlt645ProfileSchema>;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Validates a 645 profile document; returns it frozen with every format resolved, or throws a ConfigError listing every problem. */
export function loadDlt645Profile(doc: unknown): DeepReadonly<Dlt645Profile> {
  const r = Dlt645ProfileSchema.safeParse(doc, { reportInput: true });
  const issues = r.success ? [] : formatIssues(r.error.issues);
  const id = isObject(doc) && typeof doc.id === 'string' ? ` "${doc.id}"` : '';
  if (!r.success) throw new ConfigError(`DL/T 645 profile${id}`, issues, 'GW_ERR_PROFILE_INVALID');
  const seen = new Map<Quantity, string>();
  const reads: Dlt645Read[] = [];
  r.data.reads.forEach((x, i) => {
    const known = knownIdentifier(x.di);
    const bytes = x.bytes ?? known?.format.bytes;
    const decimals = x.decimals ?? known?.format.decimals;
    const signed = x.signed ?? known?.format.signed;
    if (bytes === undefined || decimals === undefined || signed === undefined) {
      issues.push(`reads[${i}]: identifier ${x.di} is not in the standard's table this agent knows; give bytes, decimals and signed`);
      return;
    }
    if (bytes * x.quantities.length > MAX_DATA_LENGTH - 4)
      issues.push(`reads[${i}]: ${x.quantities.length} elements of ${bytes} bytes do not fit one reply (at most ${MAX_DATA_LENGTH - 4} data bytes after the identifier)`);
    if (known && known.quantities.length !== x.quantities.length)
      issues.push(`reads[${i}].quantities: identifier ${x.di} (${known.name}) has ${known.quantities.length} element${known.quantities.length === 1 ? '' : 's'}, got ${x.quantities.length}`);
    x.quantities.forEach((q, k) => {
      if (q === null) return;
      const first = seen.get(q);
      if (first !== undefined) issues.push(`reads[${i}].quantities[${k}]: "${q}" is already read by ${first}`);
      else seen.set(q, `reads[${i}]`);
    });
    reads.push({ di: x.di, quantities: x.quantities, format: { bytes, decimals, signed }, magnitude: x.magnitude, scale: x.scale });
  });
  if (issues.length) throw new ConfigError(`DL/T 645 profile${id}`, issues, 'GW_ERR_PROFILE_INVALID');
  const out: Dlt645Profile = { id: r.data.id, reads };
  if (r.data.description !== undefined) Object.assign(out, { description: r.data.description });
  if (r.data.clock !== undefined) Object.assign(out, { clock: r.data.clock });
  if (r.data.status !== undefined) Object.assign(out, { status: r.data.status });
  return deepFreeze(out);
}

/** The built-in 645 profiles plus `extra` documents (a later one wins on the same id). */
export function createDlt645ProfileRegistry(extra: readonly unknown[] = []): Dlt645ProfileRegistry {
  const map = new Map<string, DeepReadonly<Dlt645Profile>>();
  for (const doc of [dlt645ThreePhaseProfile, dlt645ThreePhaseSingleProfile, ...extra]) {
    const p = loadDlt645Profile(doc);
    map.set(p.id, p);
  }
  return map;
}

export const BUILTIN_DLT645_PROFILES: Dlt645ProfileRegistry = createDlt645ProfileRegistry();
