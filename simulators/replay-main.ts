/**
 * Entry point of the feed replay: publishes a recorded feed to MQTT at N× speed.
 *
 *   tsx simulators/replay-main.ts --file feed.jsonl|feed.csv --mqtt mqtt://host:1883 [--speed 10]
 *                                 [--site cd-east] [--agent room-101] [--format jsonl|csv] [--keep-ts]
 *                                 [--username room-101 --password …]  (a broker with agent credentials:
 *                                 that agent's readings only; default GW_MQTT_USERNAME / GW_MQTT_PASSWORD)
 *
 * Exit code 2: bad arguments or nothing to replay; 1: the broker failed us.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseFeed, replayFeed, type FeedFormat } from './replay.ts';

const log = pino({ level: process.env.GW_LOG_LEVEL ?? 'info' }).child({ component: 'replay' });
const fail = (message: string, code = 2): never => {
  log.fatal(message);
  process.exit(code);
};

const { values: args } = parseArgs({
  options: {
    file: { type: 'string' },
    mqtt: { type: 'string', default: process.env.GW_MQTT_URL ?? 'mqtt://127.0.0.1:1883' },
    speed: { type: 'string', default: '1' },
    site: { type: 'string' },
    agent: { type: 'string' },
    format: { type: 'string' },
    'keep-ts': { type: 'boolean', default: false },
    username: { type: 'string' },
    password: { type: 'string' },
  },
  strict: true,
});
if (!args.file) fail('--file is required');
const speed = Number(args.speed);
if (!(speed > 0)) fail(`--speed: expected a number > 0, got ${args.speed}`);
const format = (args.format ?? (args.file!.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl')) as FeedFormat;
if (format !== 'csv' && format !== 'jsonl') fail(`--format: expected jsonl or csv, got ${args.format}`);

const feed = parseFeed(await readFile(args.file!, 'utf8'), format);
for (const e of feed.errors.slice(0, 20)) log.warn({ file: args.file }, `skipped: ${e}`);
if (feed.errors.length > 20) log.warn({ more: feed.errors.length - 20 }, 'more lines skipped');
if (feed.records.length === 0) fail('nothing to replay');
try {
  await replayFeed(feed.records, {
    mqttUrl: args.mqtt,
    speed,
    rebase: !args['keep-ts'],
    ...(args.site ? { site: args.site } : {}),
    ...(args.agent ? { agent: args.agent } : {}),
    ...((args.username ?? process.env.GW_MQTT_USERNAME) ? { username: args.username ?? process.env.GW_MQTT_USERNAME } : {}),
    ...((args.password ?? process.env.GW_MQTT_PASSWORD) ? { password: args.password ?? process.env.GW_MQTT_PASSWORD } : {}),
    log,
  });
} catch (err) {
  if (err instanceof RangeError) fail(err.message);
  log.fatal({ err }, 'replay failed');
  process.exit(1);
}
process.exit(0);
