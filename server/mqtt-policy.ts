/**
 * Who may do what on the MQTT broker: one policy, as pure functions of
 * identity × action × topic. The embedded broker's hooks call it for every
 * CONNECT, PUBLISH (the last will included) and SUBSCRIBE; the Mosquitto ACL
 * file is rendered from the same rules (`renderMosquittoAcl`), so both
 * brokers enforce the same thing.
 *
 * - anonymous clients are refused unless explicitly allowed (then they may do
 *   everything: the old, unsafe behaviour);
 * - agent X of site S publishes only its readings, its presence (its last
 *   will included) and its site's one-key call, and subscribes only to its own
 *   watermark and to the server's presence;
 * - the server publishes the agents' watermarks and its own presence, and
 *   reads everything under the topic root (shared subscriptions included).
 */
import { SERVER_STATE_TOPIC, TOPIC_ROOT, agentStateTopic, callTopic, readingsTopic, watermarkTopic } from '../contract/index.ts';

/** The server's own MQTT user name (embedded broker: generated secret in the data dir). */
export const SERVER_USERNAME = 'gridwatch-server';
/** Agent ids may not start with it: it is the server's, and the edge agent's default client id prefix. */
export const RESERVED_PREFIX = 'gridwatch-';

/**
 * The server's user names: `gridwatch-server`, and `gridwatch-server-<n>` for
 * further server instances (all with the same secret). Mosquitto ties the
 * client id to the user name, so two server instances on one Mosquitto need
 * two user names.
 */
export function isServerUsername(u: string): boolean {
  return u === SERVER_USERNAME || /^gridwatch-server-[A-Za-z0-9_.-]{1,32}$/.test(u);
}

/** `gridwatch-server`, `gridwatch-server-2`, … `gridwatch-server-<n>` */
export function serverUsernames(n: number): string[] {
  return Array.from({ length: Math.max(1, n) }, (_, i) => (i === 0 ? SERVER_USERNAME : `${SERVER_USERNAME}-${i + 1}`));
}

export type MqttIdentity =
  | { kind: 'anonymous' }
  | { kind: 'server'; username: string }
  | { kind: 'agent'; agent: string; site: string };

export type MqttAction = 'publish' | 'subscribe';

/**
 * Why a CONNECT, PUBLISH or SUBSCRIBE was refused: a closed set (it is a
 * metric label and an audit detail).
 */
export const REFUSAL_REASONS = [
  'anonymous',
  'bad_credentials',
  'revoked',
  'client_id',
  'will_topic',
  'cn_mismatch',
  'topic_not_allowed',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** A user name as given (possibly absent) → a stable, bounded actor for logs. */
export function actorOf(id: MqttIdentity): string {
  return id.kind === 'agent' ? id.agent : id.kind === 'server' ? id.username : '';
}

/** `$share/<group>/<filter>` → `<filter>`; anything else as it is. */
export function stripShare(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const rest = filter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  return slash > 0 ? rest.slice(slash + 1) : '';
}

/** The topics agent X of site S may publish to, exactly (no wildcards). */
export function agentPublishTopics(agent: string, site: string): string[] {
  return [readingsTopic(site, agent), agentStateTopic(agent), callTopic(site)];
}

/** The filters agent X may subscribe to, exactly. */
export function agentSubscribeFilters(agent: string): string[] {
  return [watermarkTopic(agent), SERVER_STATE_TOPIC];
}

const WATERMARK = new RegExp(`^${TOPIC_ROOT}/agent/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}/watermark$`);

/** The single decision: may this identity publish to / subscribe to this topic or filter? */
export function authorize(id: MqttIdentity, action: MqttAction, topic: string): boolean {
  if (id.kind === 'anonymous') return true; // only reached when anonymous access is explicitly allowed
  if (id.kind === 'agent') {
    if (action === 'publish') return agentPublishTopics(id.agent, id.site).includes(topic);
    return agentSubscribeFilters(id.agent).includes(topic);
  }
  if (action === 'publish') return topic === SERVER_STATE_TOPIC || WATERMARK.test(topic);
  const f = stripShare(topic);
  return f === `${TOPIC_ROOT}/#` || f.startsWith(`${TOPIC_ROOT}/`);
}

/**
 * Client ids an agent may connect with: its id, or the edge agent's default
 * `gridwatch-agent-<id>`. One agent therefore cannot take over (and so cut
 * off) another agent's session.
 */
export function clientIdAllowed(id: MqttIdentity, clientId: string): boolean {
  if (id.kind !== 'agent') return true;
  return clientId === id.agent || clientId === `gridwatch-agent-${id.agent}`;
}

/**
 * Mosquitto 2.0 `acl_file` text for the same policy: one `user` block per
 * identity, nothing for anonymous clients (topic lines before the first
 * `user` line would apply to them). Mosquitto cannot tie a client id to a user
 * from this file: the shipped config sets `use_username_as_clientid true`.
 */
export function renderMosquittoAcl(agents: ReadonlyArray<{ agent: string; site: string }>, serverUsers: readonly string[] = [SERVER_USERNAME]): string {
  const lines = ['# gridwatch MQTT ACL, written by `scripts/agents.ts mosquitto` from the agent credentials; do not edit by hand', ''];
  for (const u of serverUsers) {
    lines.push(`user ${u}`, `topic read ${TOPIC_ROOT}/#`, `topic write ${TOPIC_ROOT}/agent/+/watermark`, `topic write ${SERVER_STATE_TOPIC}`, '');
  }
  for (const a of [...agents].sort((x, y) => x.agent.localeCompare(y.agent))) {
    lines.push(`user ${a.agent}`);
    for (const t of agentPublishTopics(a.agent, a.site)) lines.push(`topic write ${t}`);
    for (const t of agentSubscribeFilters(a.agent)) lines.push(`topic read ${t}`);
    lines.push('');
  }
  return lines.join('\n');
}
