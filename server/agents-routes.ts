/**
 * Admin API for the agents' MQTT credentials (server/mqtt-credentials.ts):
 *
 *   GET    /api/agents                   list (no secrets)
 *   POST   /api/agents                   { agent, site? } → 201 { agent, password } (the password is shown once)
 *   POST   /api/agents/:agent/rotate     → { agent, password }; the old password stops working, a connected client is cut off
 *   POST   /api/agents/:agent/revoke     → { agent }; a connected client is cut off
 *
 * Admins of every station only. `site` may be left out when the topology names the agent (a room's
 * `agent` or one of its `agents`) in one site only; when both say something they must agree (an
 * agent the topology names in several sites is provisioned for one of them, given). Every change
 * is audited.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Topology } from '../contract/index.ts';
import type { AuditLog } from './audit.ts';
import { CredentialError, type AgentCredentials } from './mqtt-credentials.ts';

const STATUS: Record<CredentialError['code'], number> = {
  GW_ERR_AGENT_INVALID: 400,
  GW_ERR_AGENT_EXISTS: 409,
  GW_ERR_AGENT_UNKNOWN: 404,
  GW_ERR_AGENT_REVOKED: 409,
  GW_ERR_AGENT_FILE: 500,
};

const AGENT = { type: 'string', minLength: 1, maxLength: 64 } as const;
/** credentials of any site's agents: admins of every station only */
const ADMIN = { minRole: 'admin' as const, allSites: true };
const params = { type: 'object', required: ['agent'], additionalProperties: false, properties: { agent: AGENT } } as const;

/** agent id → its sites, from the topology's rooms (`agent` and `agents`) */
function agentSites(topology: Topology): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const site of topology.sites)
    for (const room of site.rooms)
      for (const a of [...(room.agent ? [room.agent] : []), ...(room.agents ?? [])]) {
        const list = out.get(a) ?? [];
        if (!list.includes(site.id)) out.set(a, [...list, site.id]);
      }
  return out;
}

export async function agentRoutes(app: FastifyInstance, opts: { credentials: AgentCredentials; audit: AuditLog; topology: Topology }): Promise<void> {
  const { credentials, audit } = opts;
  // per request: a topology reload updates opts.topology in place
  const sites = { get: (agent: string) => agentSites(opts.topology).get(agent) };
  const actor = (req: FastifyRequest) => req.session?.username ?? '';

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof CredentialError) {
      if (err.code === 'GW_ERR_AGENT_FILE') req.log.error({ err }, 'agent credentials file');
      return reply.status(STATUS[err.code]).send({ error: { code: err.code, message: err.message } });
    }
    throw err;
  });

  app.get('/api/agents', { config: ADMIN }, async () => ({ agents: credentials.list() }));

  app.post<{ Body: { agent: string; site?: string } }>(
    '/api/agents',
    {
      config: ADMIN,
      schema: { body: { type: 'object', additionalProperties: false, required: ['agent'], properties: { agent: AGENT, site: { type: 'string', minLength: 1, maxLength: 64 } } } },
    },
    async (req, reply) => {
      const known = sites.get(req.body.agent) ?? [];
      const named = known.map((s) => `"${s}"`).join(', ');
      if (known.length && req.body.site !== undefined && !known.includes(req.body.site))
        throw new CredentialError('GW_ERR_AGENT_INVALID', `agent "${req.body.agent}" is in site ${named} in the topology, not "${req.body.site}"`);
      if (req.body.site === undefined && known.length > 1)
        throw new CredentialError('GW_ERR_AGENT_INVALID', `agent "${req.body.agent}" is in sites ${named} in the topology: give its site`);
      const site = req.body.site ?? known[0];
      if (site === undefined) throw new CredentialError('GW_ERR_AGENT_INVALID', `agent "${req.body.agent}" is not in the topology: give its site`);
      const r = await credentials.provision(req.body.agent, site);
      audit.record({ kind: 'agent_provisioned', actor: actor(req), ip: req.ip, target: r.agent.agent, detail: `site ${site}` });
      reply.status(201);
      return r;
    },
  );

  app.post<{ Params: { agent: string } }>('/api/agents/:agent/rotate', { config: ADMIN, schema: { params } }, async (req) => {
    const r = await credentials.rotate(req.params.agent);
    audit.record({ kind: 'agent_rotated', actor: actor(req), ip: req.ip, target: r.agent.agent });
    return r;
  });

  app.post<{ Params: { agent: string } }>('/api/agents/:agent/revoke', { config: ADMIN, schema: { params } }, async (req) => {
    const agent = await credentials.revoke(req.params.agent);
    audit.record({ kind: 'agent_revoked', actor: actor(req), ip: req.ip, target: agent.agent });
    return { agent };
  });
}
