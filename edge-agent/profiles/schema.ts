/**
 * Device profiles are data: a register map validated by this schema when it
 * is loaded, so a profile file from the field is checked the same way as the
 * built-in ones. Only read function codes (1–4) are accepted: the agent never
 * writes to field equipment (docs/security.md).
 */
import { z } from 'zod';
import { MEASURED_QUANTITIES, type Quantity } from '../../contract/index.ts';
import { READ_FUNCTION_CODES, REGISTER_TYPES, registerWidth, WORD_ORDERS } from '../decode.ts';
import { ConfigError } from '../errors.ts';
import { deepFreeze, type DeepReadonly } from '../freeze.ts';
import { formatIssues } from '../issues.ts';
import { DEFAULT_MAX_GAP, MAX_REGISTERS_PER_READ } from '../plan.ts';

const quantity = z.enum(MEASURED_QUANTITIES as [Quantity, ...Quantity[]], {
  error: (iss) => `${JSON.stringify(iss.input)} is not a canonical quantity an agent may send`,
});

export const ProfileRegisterSchema = z.strictObject({
  quantity,
  /** 0-based PDU address */
  address: z.number().int().min(0).max(0xffff),
  fc: z.literal(READ_FUNCTION_CODES, {
    error: (iss) => `function code ${JSON.stringify(iss.input)} is not allowed: the agent only sends read function codes 1–4`,
  }),
  type: z.enum(REGISTER_TYPES),
  /** ABCD: high word first; CDAB: low word first. Ignored for 16-bit types and bool. */
  wordOrder: z.enum(WORD_ORDERS).default('ABCD'),
  /** multiplier from the raw register value to the quantity's canonical unit (DTSU666 V: 0.1; W×10 → kW: 0.0001) */
  scale: z.number().refine((x) => Number.isFinite(x) && x !== 0, 'scale must be a finite, non-zero number').default(1),
});

const PROFILE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const DeviceProfileSchema = z.strictObject({
  id: z.string().regex(PROFILE_ID, 'must be 1–64 letters, digits, _ . -'),
  description: z.string().optional(),
  /**
   * Largest run of unused addresses a read may span to save a request. Only
   * as large as the device answers such addresses (see plan.ts).
   */
  maxGap: z.number().int().min(0).max(MAX_REGISTERS_PER_READ - 1).default(DEFAULT_MAX_GAP),
  /** most registers per read; some gateways take fewer than the protocol's 125 */
  maxRegistersPerRead: z.number().int().min(2).max(MAX_REGISTERS_PER_READ).default(MAX_REGISTERS_PER_READ),
  registers: z.array(ProfileRegisterSchema).min(1),
});

export type ProfileRegister = DeepReadonly<z.output<typeof ProfileRegisterSchema>>;
export type DeviceProfile = DeepReadonly<z.output<typeof DeviceProfileSchema>>;
/** A profile as written (defaults may be left out). */
export type DeviceProfileInput = z.input<typeof DeviceProfileSchema>;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Checks across registers, done on the raw document so they are reported
 * together with the schema's own errors rather than after them.
 */
function crossCheck(doc: unknown): string[] {
  const out: string[] = [];
  if (!isObject(doc) || !Array.isArray(doc.registers)) return out;
  const seen = new Map<string, number>();
  doc.registers.forEach((r: unknown, i) => {
    if (!isObject(r)) return;
    const path = `registers[${i}]`;
    const { quantity: q, fc, type, address } = r;
    if (typeof q === 'string') {
      const first = seen.get(q);
      if (first !== undefined) out.push(`${path}.quantity: "${q}" is already read by registers[${first}]`);
      else seen.set(q, i);
    }
    const bitFc = fc === 1 || fc === 2;
    const wordFc = fc === 3 || fc === 4;
    if (bitFc && typeof type === 'string' && type !== 'bool') out.push(`${path}.type: function code ${fc} reads bits; the type must be bool`);
    if (wordFc && type === 'bool') out.push(`${path}.type: bool needs function code 1 or 2; function code ${fc} reads registers`);
    if (typeof address === 'number' && (REGISTER_TYPES as readonly unknown[]).includes(type)) {
      const width = registerWidth(type as (typeof REGISTER_TYPES)[number]);
      if (address + width > 0x10000) out.push(`${path}.address: a ${String(type)} at ${address} runs past the last address 65535`);
    }
  });
  return out;
}

/** Validates a profile document; returns it frozen with defaults filled in, or throws a ConfigError listing every problem. */
export function loadProfile(doc: unknown): DeviceProfile {
  const r = DeviceProfileSchema.safeParse(doc, { reportInput: true });
  const issues = [...(r.success ? [] : formatIssues(r.error.issues)), ...crossCheck(doc)];
  const id = isObject(doc) && typeof doc.id === 'string' ? ` "${doc.id}"` : '';
  if (issues.length > 0 || !r.success) throw new ConfigError(`device profile${id}`, issues, 'GW_ERR_PROFILE_INVALID');
  return deepFreeze(r.data);
}
