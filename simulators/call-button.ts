/**
 * A room's one-key call button (一键呼叫): one press is one QoS 1 message on
 * the site's call topic (contract/call.ts), sent with the room agent's MQTT
 * credentials. The client id is the agent id — the broker's policy allows it
 * besides the agent's own `gridwatch-agent-<id>`, so a press does not take
 * the agent's session over.
 */
import mqtt from 'mqtt';
import { callTopic, type CallMessage } from '../contract/index.ts';

export interface CallButtonOptions {
  url: string;
  /** the room's agent id (its MQTT user name) */
  agent: string;
  password: string;
  site: string;
  call: CallMessage;
  /** how long the press may take, ms; default 10 000 */
  timeoutMs?: number;
}

/** Connects, publishes the call, waits for the broker's PUBACK and disconnects; rejects if the broker refuses or does not answer. */
export async function pressCallButton(o: CallButtonOptions): Promise<void> {
  const client = await mqtt.connectAsync(o.url, {
    clientId: o.agent,
    username: o.agent,
    password: o.password,
    reconnectPeriod: 0,
    connectTimeout: o.timeoutMs ?? 10_000,
  });
  try {
    await Promise.race([
      client.publishAsync(callTopic(o.site), JSON.stringify({ ts: Date.now(), ...o.call }), { qos: 1 }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('the broker did not acknowledge the call')), o.timeoutMs ?? 10_000).unref()),
    ]);
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}
