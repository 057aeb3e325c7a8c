/**
 * `npx tsx scripts/agents.ts <command>`: the agents' MQTT credentials in a
 * server data directory (`<dataDir>/agents.json`), and the Mosquitto password
 * and ACL files made from them. A running server watches agents.json and
 * applies a change within about a second (a rotated or revoked agent is cut
 * off); Mosquitto reads its files again on SIGHUP. --help for the commands.
 */
import { parseArgs } from 'node:util';
import { AgentCredentials, CredentialError } from '../server/mqtt-credentials.ts';
import { writeMosquittoFiles } from '../server/mosquitto-files.ts';

const HELP = `Usage: npx tsx scripts/agents.ts <command> [options]

Commands:
  list                         agents, their sites and states (no secrets)
  provision <agent> --site S   new credentials for an agent; prints its password once
  rotate <agent>               a new password; the old one stops working
  revoke <agent>               disables the agent's credentials
  server-credential            the server's own MQTT user name and secret (for an
                               external broker: GW_MQTT_USERNAME / GW_MQTT_PASSWORD)
  mosquitto --out DIR          writes DIR/passwd and DIR/acl for Mosquitto 2
                               (password_file / acl_file; then SIGHUP mosquitto)
                               [--server-users N]: gridwatch-server, -2 … -N, one
                               per server instance on that broker (default 1)

Options:
  --data-dir DIR   the server's data directory (default: $GW_DATA_DIR, else ./data)
  --site S         the agent's site (provision)
  --out DIR        where the Mosquitto files go (mosquitto)
  --json           print JSON instead of text
  -h, --help       this text

A running server picks up changes to agents.json by itself. Passwords are
printed once and not stored: give them to the agent (mqtt.username = agent id,
mqtt.password) right away.

Exit codes: 0 done; 1 refused (unknown or existing agent, revoked, bad file);
2 usage error.`;

class UsageError extends Error {}

function out(json: boolean, text: string, obj: unknown): void {
  process.stdout.write(json ? `${JSON.stringify(obj)}\n` : `${text}\n`);
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'data-dir': { type: 'string' },
        site: { type: 'string' },
        out: { type: 'string' },
        'server-users': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return values.help ? 0 : 2;
  }
  const [command, ...rest] = positionals;
  const dataDir = values['data-dir'] ?? (process.env.GW_DATA_DIR || './data');
  const json = values.json ?? false;
  const one = (what: string): string => {
    if (rest.length !== 1) throw new UsageError(`${command} needs exactly one ${what}`);
    return rest[0]!;
  };
  const creds = new AgentCredentials(dataDir);
  await creds.start();

  switch (command) {
    case 'list': {
      const agents = creds.list();
      const text = agents.length
        ? agents
            .map((a) => `${a.agent}\tsite=${a.site}\t${a.revoked ? 'revoked' : 'active'}\tcreated=${new Date(a.createdAt).toISOString()}${a.rotatedAt ? `\trotated=${new Date(a.rotatedAt).toISOString()}` : ''}`)
            .join('\n')
        : '(no agents)';
      out(json, text, { agents });
      return 0;
    }
    case 'provision': {
      const agent = one('agent id');
      if (!values.site) throw new UsageError('provision needs --site');
      const r = await creds.provision(agent, values.site);
      process.stderr.write(`provisioned ${agent} (site ${values.site}); its password follows, shown this once\n`);
      out(json, r.password, r);
      return 0;
    }
    case 'rotate': {
      const r = await creds.rotate(one('agent id'));
      process.stderr.write(`rotated ${r.agent.agent}; its new password follows, shown this once\n`);
      out(json, r.password, r);
      return 0;
    }
    case 'revoke': {
      const agent = await creds.revoke(one('agent id'));
      out(json, `revoked ${agent.agent}`, { agent });
      return 0;
    }
    case 'server-credential': {
      const s = creds.serverCredentials();
      out(json, `GW_MQTT_USERNAME=${s.username}\nGW_MQTT_PASSWORD=${s.password}`, s);
      return 0;
    }
    case 'mosquitto': {
      if (!values.out) throw new UsageError('mosquitto needs --out DIR');
      const n = values['server-users'] === undefined ? 1 : Number(values['server-users']);
      if (!Number.isInteger(n) || n < 1 || n > 32) throw new UsageError('--server-users: a whole number from 1 to 32');
      const f = await writeMosquittoFiles(creds, values.out, { serverUsers: n });
      out(json, `wrote ${f.passwordFile} and ${f.aclFile} (${f.users.length} users: ${f.users.join(', ')})`, f);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    process.stderr.write(`agents: ${e.message}\n(npx tsx scripts/agents.ts --help)\n`);
    process.exitCode = 2;
  } else if (e instanceof CredentialError) {
    process.stderr.write(`agents: ${e.code}: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`agents: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
