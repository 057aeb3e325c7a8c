/**
 * vitest globalSetup: ONE Mosquitto and ONE influxd for the whole run, shared
 * by every test file (tests isolate themselves by topic prefix and database
 * name). A test that needs to kill or restart a broker starts a private one.
 */
import type { TestProject } from 'vitest/node';
import { buildBundle, type ServerBundle } from './server-bundle.ts';
import { startInfluxd, startMosquitto, type ServiceHandle } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** mqtt://127.0.0.1:PORT of the shared Mosquitto */
    mqttUrl: string;
    /** http://127.0.0.1:PORT of the shared influxd (v1 API) */
    influxUrl: string;
    /** entry scripts bundled for this run (test/harness/server-bundle.ts), by their path; one that did not build is missing: its children run under tsx */
    bundles: Record<string, string>;
  }
}

/** the entry scripts tests run as child processes many times (test/support/entry.ts) */
const BUNDLED = ['server/main.ts', 'scripts/agents.ts', 'scripts/run-all.ts'];

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [mq, influx, ...built] = await Promise.allSettled([startMosquitto(), startInfluxd(), ...BUNDLED.map((e) => buildBundle(e))]);
  const bundles = built.flatMap((b) => (b.status === 'fulfilled' ? [b.value] : []));
  if (mq.status === 'rejected' || influx.status === 'rejected') {
    await Promise.all([mq, influx].map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    await Promise.all(bundles.map((b) => b.remove()));
    const errors = [mq, influx].flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    throw errors.length === 1 ? errors[0] : new AggregateError(errors, 'harness: shared services failed to start');
  }
  const services: ServiceHandle[] = [mq.value, influx.value];
  project.provide('mqttUrl', mq.value.url);
  project.provide('influxUrl', influx.value.url);
  // an entry that does not build fails its tests under tsx too, with the error where the test shows it
  project.provide('bundles', Object.fromEntries(BUNDLED.flatMap((e, i) => (built[i]!.status === 'fulfilled' ? [[e, (built[i] as PromiseFulfilledResult<ServerBundle>).value.file]] : []))));
  built.forEach((b, i) => {
    if (b.status === 'rejected') process.stderr.write(`[harness] ${BUNDLED[i]} not bundled, its children run under tsx: ${String(b.reason)}\n`);
  });
  process.stderr.write(
    `[harness] mosquitto ${mq.value.url} ready in ${mq.value.startupMs} ms; influxd ${influx.value.url} ready in ${influx.value.startupMs} ms\n`,
  );
  return async () => {
    await Promise.all([...services.map((s) => s.stop()), ...bundles.map((b) => b.remove())]);
  };
}
