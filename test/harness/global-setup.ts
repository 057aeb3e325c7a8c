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
    /** the server entry bundled for this run (test/harness/server-bundle.ts); '' when it did not build: children run under tsx */
    serverBundle: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [mq, influx, bundle] = await Promise.allSettled([startMosquitto(), startInfluxd(), buildBundle('server/main.ts')]);
  if (mq.status === 'rejected' || influx.status === 'rejected') {
    await Promise.all([mq, influx].map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    if (bundle.status === 'fulfilled') await bundle.value.remove();
    const errors = [mq, influx].flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    throw errors.length === 1 ? errors[0] : new AggregateError(errors, 'harness: shared services failed to start');
  }
  const services: ServiceHandle[] = [mq.value, influx.value];
  project.provide('mqttUrl', mq.value.url);
  project.provide('influxUrl', influx.value.url);
  // a server that does not build fails its tests under tsx too, with the error where the test shows it
  const server: ServerBundle | null = bundle.status === 'fulfilled' ? bundle.value : null;
  project.provide('serverBundle', server?.file ?? '');
  if (!server) process.stderr.write(`[harness] server bundle not built, child servers run under tsx: ${String((bundle as PromiseRejectedResult).reason)}\n`);
  process.stderr.write(
    `[harness] mosquitto ${mq.value.url} ready in ${mq.value.startupMs} ms; influxd ${influx.value.url} ready in ${influx.value.startupMs} ms\n`,
  );
  return async () => {
    await Promise.all([...services.map((s) => s.stop()), server?.remove()]);
  };
}
