/**
 * TLS options of an MQTT connection (`mqtt.tls` in the agent config) as
 * mqtt.js takes them: the PEM files are read at every connection attempt, so
 * certificates replaced on disk are used from the next reconnect on.
 */
import { readFileSync } from 'node:fs';

export interface MqttTlsConfig {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly rejectUnauthorized: boolean;
}

/** Throws (with the file's path) when a file cannot be read. */
export function mqttTlsOptions(t: MqttTlsConfig | undefined): { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean } {
  if (!t) return {};
  const read = (what: string, f: string | undefined) => {
    if (f === undefined) return {};
    try {
      return { [what]: readFileSync(f) };
    } catch (e) {
      throw new Error(`mqtt.tls.${what}: cannot read ${f}: ${(e as Error).message}`);
    }
  };
  return { ...read('ca', t.ca), ...read('cert', t.cert), ...read('key', t.key), rejectUnauthorized: t.rejectUnauthorized };
}
