import net from 'node:net';

/**
 * Opens a TCP connection to a serial gateway: resolves with the connected
 * socket (no delay, keepalive on, so a gateway that vanishes without a FIN is
 * found), or rejects with the connect error or a timeout, the socket destroyed.
 * Used by the Modbus TCP connection and the DL/T 645 TCP link alike. With
 * `onread`, what arrives is read into that one buffer and handed to its
 * callback instead of a new Buffer per 'data' event.
 */
export async function connectTcp(host: string, port: number, connectTimeoutMs: number, onread?: net.OnReadOpts): Promise<net.Socket> {
  const socket = net.createConnection(onread ? { host, port, onread } : { host, port });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`no TCP connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        socket.off('connect', onConnect);
        socket.off('error', finish);
        if (err) reject(err);
        else resolve();
      };
      const onConnect = () => finish();
      socket.once('connect', onConnect);
      socket.once('error', finish);
    });
  } catch (err) {
    socket.destroy();
    throw err;
  }
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 10_000);
  return socket;
}
