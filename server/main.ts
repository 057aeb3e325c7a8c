/**
 * Server entry point: the only place that reads the environment, builds the
 * logger and listens. Config: an optional YAML/JSON file (GW_CONFIG or
 * argv[2]) with GW_* environment variables over it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { configFileArg } from '../contract/cli.ts';

const USAGE = `usage: tsx server/main.ts [config.yaml|config.json]   (or GW_CONFIG=<path>)

Runs the gridwatch server. GW_* environment variables override the file (docs/configuration.md).
Exit codes: 0 stopped, 1 failed to start, 2 bad arguments or configuration.
`;
const configArg = configFileArg(process.argv.slice(2), USAGE);
// the server's code is loaded only after the command line is known good: --help and a bad option answer at once
const [{ default: pino }, { parse: parseYaml }, { configFromEnv, loadServerConfig }, { ConfigError }, { riskModelFromYaml }, { createServer }] = await Promise.all([
  import('pino'),
  import('yaml'),
  import('./config.ts'),
  import('./errors.ts'),
  import('./risk/model.ts'),
  import('./server.ts'),
]);

const here = path.dirname(fileURLToPath(import.meta.url));
const file = configArg ?? process.env.GW_CONFIG;
const log = pino({ level: process.env.GW_LOG_LEVEL ?? 'info', redact: ['*.password', '*.token', 'config.mqtt.password', 'config.influx.password', 'config.influx.token'] });

let config;
try {
  const base = file ? (parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  config = loadServerConfig({ dashboardDir: path.join(here, '..', 'dashboard', 'dist'), ...configFromEnv(process.env, base ?? {}) });
  // the service-risk model is checked before anything starts (docs/risk.md)
  if (config.risk.file) riskModelFromYaml(readFileSync(config.risk.file, 'utf8'), `risk model ${config.risk.file}`);
} catch (e) {
  log.fatal(e instanceof ConfigError ? { issues: e.issues, code: e.code } : { err: e }, 'configuration rejected');
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
log.level = config.logLevel;
const server = createServer(config, { log });
try {
  await server.start();
} catch (e) {
  log.fatal({ err: e }, 'server failed to start');
  process.exit(1);
}
log.info({ url: server.url, mqttUrl: server.mqttUrl }, `gridwatch dashboard at ${server.url}/`);

/** longest a stop may take (drain 5 s, broker 2 s each step, rule state and journal) before the process exits anyway */
const STOP_DEADLINE_MS = 25_000;
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping');
    // a safety net: each part of the stop is bounded, but a stop that hangs anyway must still end the process
    setTimeout(() => {
      log.error({ afterMs: STOP_DEADLINE_MS }, 'stop did not finish; exiting');
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    server.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  });
}
