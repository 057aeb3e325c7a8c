/**
 * Byte links a DL/T 645 bus runs over: a serial port (an RS-485 adapter,
 * through the `serialport` package) or a TCP connection to a transparent
 * serial-over-TCP gateway, which passes the frames through unchanged. A link
 * only moves bytes; framing and the one-request-at-a-time rule are bus.ts's.
 */
import { SerialPort } from 'serialport';
import { connectTcp } from '../tcp-connect.ts';

export interface ByteLink {
  /** resolves once the bytes are handed to the OS (serial: drained to the line) */
  write(bytes: Buffer): Promise<void>;
  /** closes the link (idempotent); onClose is not called for a close asked for here */
  close(): void;
}

export interface LinkHandlers {
  onData(bytes: Buffer): void;
  /** the link closed by itself (peer, cable, error) */
  onClose(reason: string): void;
}

export interface LinkFactory {
  /** "tcp://host:port" or "serial:///dev/ttyUSB0", for messages and stats */
  readonly where: string;
  open(h: LinkHandlers): Promise<ByteLink>;
}

export function tcpLink(host: string, port: number, connectTimeoutMs = 3000): LinkFactory {
  return {
    where: `tcp://${host}:${port}`,
    async open(h) {
      // no delay, keepalive: a gateway that vanishes without a FIN is found
      const socket = await connectTcp(host, port, connectTimeoutMs);
      let closing = false;
      let lastError: Error | undefined;
      socket.on('error', (err) => (lastError = err));
      socket.on('data', (d: Buffer) => h.onData(d));
      socket.once('close', () => {
        if (!closing) h.onClose(lastError ? lastError.message : 'closed by the peer');
      });
      return {
        write: (bytes) =>
          new Promise<void>((resolve, reject) => socket.write(bytes, (err) => (err ? reject(err) : resolve()))),
        close: () => {
          closing = true;
          socket.destroy();
        },
      };
    },
  };
}

export const DLT645_PARITIES = ['none', 'even', 'odd'] as const;
export type Dlt645Parity = (typeof DLT645_PARITIES)[number];

export interface SerialSettings {
  path: string;
  baudRate: number;
  dataBits: 7 | 8;
  parity: Dlt645Parity;
  stopBits: 1 | 2;
}

export function serialLink(s: SerialSettings): LinkFactory {
  return {
    where: `serial://${s.path}`,
    async open(h) {
      const port = new SerialPort({ path: s.path, baudRate: s.baudRate, dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits, autoOpen: false });
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
      let closing = false;
      let lastError: Error | undefined;
      port.on('error', (err: Error) => (lastError = err));
      port.on('data', (d: Buffer) => h.onData(d));
      port.once('close', () => {
        if (!closing) h.onClose(lastError ? lastError.message : 'port closed');
      });
      return {
        write: (bytes) =>
          new Promise<void>((resolve, reject) =>
            port.write(bytes, (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve())))),
          ),
        close: () => {
          closing = true;
          if (port.isOpen) port.close(() => undefined);
        },
      };
    },
  };
}
