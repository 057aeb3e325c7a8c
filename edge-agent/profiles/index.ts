/**
 * The profile registry: built-in profiles, validated like any profile file.
 * A config names a profile by id; ids resolve against a registry passed in
 * (built-ins by default), so a deployment can add profiles without code.
 */
import { dtsu666Profile } from './dtsu666.ts';
import { loadProfile, type DeviceProfile } from './schema.ts';

export type ProfileRegistry = ReadonlyMap<string, DeviceProfile>;

/** Builds a registry of the built-in profiles plus `extra` documents (a later one wins on the same id). */
export function createProfileRegistry(extra: readonly unknown[] = []): ProfileRegistry {
  const map = new Map<string, DeviceProfile>();
  for (const doc of [dtsu666Profile(0x401e), dtsu666Profile(0x101e), ...extra]) {
    const p = loadProfile(doc);
    map.set(p.id, p);
  }
  return map;
}

export const BUILTIN_PROFILES: ProfileRegistry = createProfileRegistry();

export { dtsu666Profile } from './dtsu666.ts';
export {
  DeviceProfileSchema,
  loadProfile,
  ProfileRegisterSchema,
  type DeviceProfile,
  type DeviceProfileInput,
  type ProfileRegister,
} from './schema.ts';
