/**
 * MQTT topic layout, version 1 (docs/contract.md, MQTT topics).
 * Ids that appear in a topic must be a single, wildcard-free topic level
 * ([MQTT-4.7.1-1]: `+` and `#` are wildcards, `/` separates levels).
 */
export const TOPIC_ROOT = 'gridwatch/v1';

/** An id usable as one topic level and as a file name: letters, digits, `_ . -`. */
export const TOPIC_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function isTopicId(id: string): boolean {
  return TOPIC_ID_PATTERN.test(id);
}

/** One poll cycle of one agent; QoS 1, not retained. */
export function readingsTopic(site: string, agent: string): string {
  return `${TOPIC_ROOT}/${site}/${agent}/readings`;
}
export const READINGS_FILTER = `${TOPIC_ROOT}/+/+/readings`;

/** Agent presence: retained `online`, last will `offline`. */
export function agentStateTopic(agent: string): string {
  return `${TOPIC_ROOT}/agent/${agent}/state`;
}
export const AGENT_STATE_FILTER = `${TOPIC_ROOT}/agent/+/state`;

/**
 * Server → agent: the highest sequence number of this agent that is durably
 * stored (retained). The agent may forget spooled readings at or below it.
 */
export function watermarkTopic(agent: string): string {
  return `${TOPIC_ROOT}/agent/${agent}/watermark`;
}

/** Server presence (retained `online`, last will `offline`). */
export const SERVER_STATE_TOPIC = `${TOPIC_ROOT}/server/state`;

/** One-key call from a site (一键呼叫). */
export function callTopic(site: string): string {
  return `${TOPIC_ROOT}/${site}/call`;
}
export const CALL_FILTER = `${TOPIC_ROOT}/+/call`;

export interface ReadingsTopicParts {
  site: string;
  agent: string;
}

/** Parses `gridwatch/v1/{site}/{agent}/readings`; null for anything else. */
export function parseReadingsTopic(topic: string): ReadingsTopicParts | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[4] !== 'readings') return null;
  const site = parts[2]!;
  const agent = parts[3]!;
  if (site === 'agent' || !isTopicId(site) || !isTopicId(agent)) return null;
  return { site, agent };
}

/** Parses `gridwatch/v1/{site}/call`; null for anything else. */
export function parseCallTopic(topic: string): { site: string } | null {
  const parts = topic.split('/');
  if (parts.length !== 4 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[3] !== 'call') return null;
  const site = parts[2]!;
  if (site === 'agent' || site === 'server' || !isTopicId(site)) return null;
  return { site };
}
