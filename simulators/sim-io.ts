/**
 * What every simulated gateway (Modbus TCP, Modbus RTU, DL/T 645) does the
 * same way: delayed replies whose timers stop() cancels, opening its serial
 * port, listening on TCP. Failures to open or listen are GW_ERR_SIM_LISTEN.
 */
import type { AddressInfo, Server } from 'node:net';
import type { SerialPort } from 'serialport';
import { SimulatorError } from './errors.ts';

/** Timers for delayed replies, all cancelled at once when the simulator stops. */
export class ReplyTimers {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** resolves after `ms`; never resolves once clear() has run */
  delay(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** Opens a port made with `autoOpen: false`; later port errors are ignored (the peer's problem). */
export async function openSimSerial(port: SerialPort, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    port.open((err) => (err ? reject(new SimulatorError('GW_ERR_SIM_LISTEN', `cannot open ${path}: ${err.message}`, { cause: err, retryable: true })) : resolve())),
  );
  port.on('error', () => undefined);
}

/** Listens on host:port (0: a free one) and returns the port listened on. */
export async function listenSim(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onErr = (err: Error) => reject(new SimulatorError('GW_ERR_SIM_LISTEN', `cannot listen on ${host}:${port}: ${err.message}`, { cause: err, retryable: true }));
    server.once('error', onErr);
    server.listen(port, host, () => {
      server.off('error', onErr);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
