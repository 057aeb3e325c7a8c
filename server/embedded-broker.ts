/**
 * Embedded MQTT broker (aedes) for a bare machine: used only when no broker
 * URL is configured. Loopback by default; production uses Mosquitto or a
 * clustered broker.
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startEmbeddedBroker(opts: { host: string; port: number; log: Logger }): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker({
    // a stalled subscriber must not freeze delivery to everyone (aedes docs, drainTimeout)
    drainTimeout: 10_000,
    concurrency: 1000,
    queueLimit: 10_000,
  });
  const server = net.createServer(broker.handle);
  broker.on('clientError', (client, err) => opts.log.debug({ clientId: client?.id, err }, 'mqtt client error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    url: `mqtt://${opts.host}:${addr.port}`,
    port: addr.port,
    async stop() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
