/** The server as a real child process (embedded broker, DuckDB) with a notify section: for kill -9 tests. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TEST_PASSWORD } from '../support/server.ts';
import { ServerProcess } from '../support/server-process.ts';

export class NotifyChildServer extends ServerProcess {
  static async create(notify: Record<string, unknown>): Promise<NotifyChildServer> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-notify-kill-'));
    const config = {
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { embedded: { host: '127.0.0.1', port: 0 } },
      dataDir: dir,
      auth: { adminPassword: TEST_PASSWORD },
      notify,
      priority: os.getPriority(),
    };
    const configFile = path.join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(config));
    return new NotifyChildServer(dir, configFile);
  }
}
