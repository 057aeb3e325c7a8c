/**
 * The agent process reads its config through here, once, at start. From
 * source it is config-files.ts imported. In the bundle (scripts/build-agent.ts)
 * this module is replaced by one that require()s `gridwatch-agent-config.cjs`
 * next to the agent's script, calls it and removes it from the require cache:
 * the validator (zod, the schemas, yaml) and its source text are garbage once
 * the config is loaded.
 */
import type { LoadedConfig } from './config-files.ts';

export type { LoadedConfig } from './config-files.ts';

export async function loadConfigOnce(path: string): Promise<LoadedConfig> {
  const { loadConfigFiles } = await import('./config-files.ts');
  return loadConfigFiles(path);
}
