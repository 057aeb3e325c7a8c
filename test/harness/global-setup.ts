/**
 * vitest globalSetup: ONE Mosquitto and ONE influxd for the whole run, shared
 * by every test file (tests isolate themselves by topic prefix and database
 * name). A test that needs to kill or restart a broker starts a private one.
 */
import type { TestProject } from 'vitest/node';
import { startInfluxd, startMosquitto, type ServiceHandle } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** mqtt://127.0.0.1:PORT of the shared Mosquitto */
    mqttUrl: string;
    /** http://127.0.0.1:PORT of the shared influxd (v1 API) */
    influxUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [mq, influx] = await Promise.allSettled([startMosquitto(), startInfluxd()]);
  if (mq.status === 'rejected' || influx.status === 'rejected') {
    await Promise.all([mq, influx].map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    const errors = [mq, influx].flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    throw errors.length === 1 ? errors[0] : new AggregateError(errors, 'harness: shared services failed to start');
  }
  const services: ServiceHandle[] = [mq.value, influx.value];
  project.provide('mqttUrl', mq.value.url);
  project.provide('influxUrl', influx.value.url);
  process.stderr.write(
    `[harness] mosquitto ${mq.value.url} ready in ${mq.value.startupMs} ms; influxd ${influx.value.url} ready in ${influx.value.startupMs} ms\n`,
  );
  return async () => {
    await Promise.all(services.map((s) => s.stop()));
  };
}
