/** The simulated meter types by name, as the simulator CLI and scenario files name them. */
import { adw300RegisterMap } from './adw300.ts';
import { dtsu666RegisterMap } from './dtsu666.ts';
import { em24RegisterMap } from './em24.ts';
import type { RegisterMap } from './register-map.ts';
import { sdm630RegisterMap } from './sdm630.ts';

export const METER_TYPES = ['dtsu666', 'dtsu666-101e', 'sdm630', 'em24', 'adw300'] as const;
export type MeterType = (typeof METER_TYPES)[number];

export function registerMapOf(type: MeterType): RegisterMap {
  switch (type) {
    case 'dtsu666':
      return dtsu666RegisterMap();
    case 'dtsu666-101e':
      return dtsu666RegisterMap({ importKwhAddress: 0x101e });
    case 'sdm630':
      return sdm630RegisterMap();
    case 'em24':
      return em24RegisterMap();
    case 'adw300':
      return adw300RegisterMap();
    default: {
      const never: never = type;
      throw new RangeError(`unknown meter type ${String(never)}`);
    }
  }
}

export function isMeterType(x: string): x is MeterType {
  return (METER_TYPES as readonly string[]).includes(x);
}
