/**
 * Entry point of the edge agent: the only place that reads argv and the
 * environment, builds the logger, and handles signals.
 *
 *   tsx edge-agent/main.ts <config.yaml|config.json>     (or GW_AGENT_CONFIG=<path>)
 *
 * GW_LOG_LEVEL sets the log level (default info). Exit code 2: the config is
 * missing or invalid; 1: the agent failed to start or stop.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { createAgent, loadAgentConfig, loadProfileFiles, type AgentConfig, type ProfileRegistry } from './index.ts';

const root = pino({
  level: process.env.GW_LOG_LEVEL ?? 'info',
  redact: { paths: ['password', '*.password', 'mqtt.password', 'config.mqtt.password'], censor: '[redacted]' },
});
const log = root.child({ component: 'edge-agent' });

const path = process.argv[2] ?? process.env.GW_AGENT_CONFIG;
if (!path) {
  log.fatal('no config: pass the config file path as the first argument or in GW_AGENT_CONFIG');
  process.exit(2);
}

let config: AgentConfig;
let profiles: ProfileRegistry;
try {
  // YAML is a superset of JSON, so one parser reads both
  const doc: unknown = parseYaml(await readFile(path, 'utf8'));
  // profile files first: the devices' profile ids are checked against them
  const files = typeof doc === 'object' && doc !== null && Array.isArray((doc as { profileFiles?: unknown }).profileFiles)
    ? ((doc as { profileFiles: unknown[] }).profileFiles.filter((f) => typeof f === 'string') as string[])
    : [];
  profiles = loadProfileFiles(files, dirname(path));
  config = loadAgentConfig(doc, { profiles });
} catch (err) {
  log.fatal({ err, path }, 'cannot load the agent config');
  process.exit(2);
}

const agent = createAgent(config, { log, profiles });
try {
  await agent.start();
} catch (err) {
  log.fatal({ err }, 'edge agent failed to start');
  await agent.stop().catch(() => undefined);
  process.exit(1);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'edge agent failed to stop cleanly');
        process.exit(1);
      },
    );
  });
}
