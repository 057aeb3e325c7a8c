/**
 * createAgent for tests and tools: the profile registries default to the
 * built-ins, and a config's own DL/T 645 profiles (`dlt645.profiles`) are
 * added to the 645 registry. The agent process gets both from the config
 * loader instead (config-files.ts), so its running code (agent.ts) imports
 * no schema: this module, which builds the built-ins with zod, is not part of it.
 */
import { createAgent as createRunningAgent, type Agent, type AgentDeps as RunningAgentDeps } from './agent.ts';
import type { AgentConfig } from './config.ts';
import { dlt645Registry } from './dlt645/config.ts';
import { BUILTIN_DLT645_PROFILES } from './dlt645/profile.ts';
import { BUILTIN_PROFILES } from './profiles/index.ts';

export type AgentDeps = Omit<RunningAgentDeps, 'profiles' | 'dlt645Profiles'> & Partial<Pick<RunningAgentDeps, 'profiles' | 'dlt645Profiles'>>;

export function createAgent(config: AgentConfig, deps: AgentDeps): Agent {
  return createRunningAgent(config, {
    ...deps,
    profiles: deps.profiles ?? BUILTIN_PROFILES,
    dlt645Profiles: dlt645Registry(config.dlt645?.profiles, deps.dlt645Profiles ?? BUILTIN_DLT645_PROFILES),
  });
}
