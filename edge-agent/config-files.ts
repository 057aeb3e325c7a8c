/**
 * Reading the agent's config at start: the config file (JSON or YAML), the
 * profile files it names, every check of config.ts, profiles/ and
 * dlt645/config.ts. What it returns is plain frozen data (and the profile
 * registries, maps of it) that the running agent uses as is.
 *
 * In the bundle this module and what it imports (zod, yaml, the schemas) are
 * a script of their own, `gridwatch-agent-config.cjs`, that the agent loads,
 * calls once and lets go (config-once.ts; scripts/build-agent.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadAgentConfig, type AgentConfig } from './config.ts';
import { dlt645Registry } from './dlt645/config.ts';
import { BUILTIN_DLT645_PROFILES } from './dlt645/profile.ts';
import type { Dlt645ProfileRegistry } from './dlt645/reads.ts';
import { loadProfileFiles } from './profiles/files.ts';
import type { ProfileRegistry } from './profiles/index.ts';

export interface LoadedConfig {
  readonly config: AgentConfig;
  /** the built-in profiles and those of the config's `profileFiles` */
  readonly profiles: ProfileRegistry;
  /** the built-in DL/T 645 profiles and the config's own (`dlt645.profiles`) */
  readonly dlt645Profiles: Dlt645ProfileRegistry;
}

/**
 * YAML is a superset of JSON, so the YAML parser reads both; but it takes
 * about a second for a thousand meters on a small box, JSON.parse a few
 * milliseconds. A file that looks like JSON is read as JSON first; the YAML
 * parser is loaded only for what JSON.parse refuses.
 */
async function parseConfigText(text: string): Promise<unknown> {
  if (text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // YAML flow style, or broken: the YAML parser decides, with its own error
    }
  }
  const { parse } = await import('yaml');
  return parse(text) as unknown;
}

/** Reads and validates the config file `path`; throws a ConfigError listing every problem (or the file's read error). */
export async function loadConfigFiles(path: string): Promise<LoadedConfig> {
  const doc = await parseConfigText(readFileSync(path, 'utf8'));
  // profile files first: the devices' profile ids are checked against them
  const files = typeof doc === 'object' && doc !== null && Array.isArray((doc as { profileFiles?: unknown }).profileFiles)
    ? ((doc as { profileFiles: unknown[] }).profileFiles.filter((f) => typeof f === 'string') as string[])
    : [];
  const profiles = loadProfileFiles(files, dirname(path));
  const config = loadAgentConfig(doc, { profiles });
  return Object.freeze({ config, profiles, dlt645Profiles: dlt645Registry(config.dlt645?.profiles, BUILTIN_DLT645_PROFILES) });
}
