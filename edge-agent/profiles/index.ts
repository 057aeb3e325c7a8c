/**
 * The profile registry: built-in profiles, validated like any profile file.
 * A config names a profile by id; ids resolve against a registry passed in
 * (built-ins by default), so a deployment can add profiles without code.
 */
import { adw300Profile } from './adw300.ts';
import { dtsu666Profile } from './dtsu666.ts';
import { em24Profile } from './em24.ts';
import { loadProfile, type DeviceProfile } from './schema.ts';
import { sdm630Profile } from './sdm630.ts';

export type ProfileRegistry = ReadonlyMap<string, DeviceProfile>;

/** Builds a registry of the built-in profiles plus `extra` documents (a later one wins on the same id). */
export function createProfileRegistry(extra: readonly unknown[] = []): ProfileRegistry {
  const map = new Map<string, DeviceProfile>();
  for (const doc of [dtsu666Profile(0x401e), dtsu666Profile(0x101e), sdm630Profile, em24Profile, adw300Profile, ...extra]) {
    const p = loadProfile(doc);
    map.set(p.id, p);
  }
  return map;
}

export const BUILTIN_PROFILES: ProfileRegistry = createProfileRegistry();

export { adw300Profile } from './adw300.ts';
export { dtsu666Profile } from './dtsu666.ts';
export { em24Profile } from './em24.ts';
export { sdm630Profile } from './sdm630.ts';
export {
  DeviceProfileSchema,
  loadProfile,
  ProfileRegisterSchema,
  type DeviceProfile,
  type DeviceProfileInput,
  type ProfileRegister,
} from './schema.ts';
