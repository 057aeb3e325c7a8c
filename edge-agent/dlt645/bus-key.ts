/** "dlt645+tcp://h:p" or "dlt645+serial:///dev/x": devices with the same key share a bus */
export function dlt645BusKey(t: { kind?: unknown; host?: unknown; port?: unknown; path?: unknown }): string {
  return t.kind === 'tcp' ? `dlt645+tcp://${String(t.host)}:${String(t.port)}` : `dlt645+serial://${String(t.path)}`;
}
