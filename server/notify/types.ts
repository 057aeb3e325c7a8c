/**
 * The notification port (docs/notifications.md): what the outage pool, alarm
 * escalation and risk reports hand over, the states a message goes through,
 * and the SMS gateway the service talks to.
 *
 *   queued → sending → sent → delivered → read
 *                  ↘ (retry with backoff) queued   ↘ failed
 *
 * `sending` is written durably before the gateway is called; after a crash a
 * message found in `sending` is resolved by asking the gateway for its client
 * message id, never sent blindly again.
 */

export const NOTIFY_PURPOSES = [
  'outage_planned',
  'outage_cancelled',
  'outage_extended',
  'outage_restored',
  'outage_fault',
  'alarm_escalation',
  'risk_report',
  'test',
] as const;
export type NotifyPurpose = (typeof NOTIFY_PURPOSES)[number];

export const MESSAGE_STATES = ['queued', 'sending', 'sent', 'delivered', 'failed', 'read'] as const;
export type MessageState = (typeof MESSAGE_STATES)[number];

/** Final states: nothing more is sent; `read` may still follow `delivered` (and a late receipt `failed`→`delivered`, see docs). */
export function isFinal(s: MessageState): boolean {
  return s === 'delivered' || s === 'failed' || s === 'read';
}

export interface NotifyRecipient {
  phone: string;
  name?: string;
  /** customer id, when the recipient is a customer's contact */
  customer?: string;
  /** person id of the contact directory, when the recipient is staff */
  person?: string;
}

/** What a caller hands to `enqueue`. */
export interface NotifyRequest {
  /** idempotency key: a message with a key already known is never sent again (e.g. `plan:P1:notice:C42:13800000000`) */
  key: string;
  to: NotifyRecipient;
  /** template id (server/notify/templates.ts), e.g. 'outage_planned' */
  template: string;
  /** template variables: start, end, scope, reason, hotline … (strings or numbers) */
  vars: Record<string, string | number>;
  purpose: NotifyPurpose;
  /** what the message is about, for `byRef`: { kind: 'plan', id: 'P1' } */
  ref: { kind: string; id: string };
  /** text language; default the service's (Chinese) */
  lang?: 'zh' | 'en';
}

export interface NotifyMessage {
  /** our message id, also the client message id sent to the gateway */
  id: string;
  key: string;
  to: NotifyRecipient;
  template: string;
  purpose: NotifyPurpose;
  ref: { kind: string; id: string };
  /** the composed text as sent */
  text: string;
  state: MessageState;
  /** gateway calls made so far */
  attempts: number;
  /** epoch ms (server clock) */
  createdAt: number;
  updatedAt: number;
  sentAt?: number;
  deliveredAt?: number;
  failedAt?: number;
  readAt?: number;
  /** not before this time is the next attempt made (epoch ms), while queued after a failure */
  nextAttemptAt?: number;
  /** the gateway's message id */
  gatewayId?: string;
  /** last error: gateway code and text */
  error?: string;
  /** the recipient's reply text, when one came */
  reply?: string;
}

export interface NoticeSummary {
  queued: number;
  sending: number;
  sent: number;
  delivered: number;
  failed: number;
  read: number;
  total: number;
}

export interface EnqueueResult {
  /** newly recorded messages (durable when `enqueue` resolves) */
  accepted: NotifyMessage[];
  /** keys that were already known: their existing messages, not sent again */
  duplicates: NotifyMessage[];
  /** requests refused: bad phone, unknown template, missing variable … */
  rejected: Array<{ index: number; key?: string; reason: string }>;
}

export type MessageListener = (m: NotifyMessage) => void;

/** The port other parts use (server/notify/index.ts). */
export interface Notifier {
  enqueue(reqs: readonly NotifyRequest[]): Promise<EnqueueResult>;
  byRef(kind: string, id: string): NotifyMessage[];
  byKey(key: string): NotifyMessage | undefined;
  summary(kind: string, id: string): NoticeSummary;
  /** called on every state change; returns the unsubscribe function */
  onChange(listener: MessageListener): () => void;
}

// ---- the gateway side -------------------------------------------------------

export interface GatewaySend {
  /** our message id: the gateway's idempotency key / client message id */
  clientId: string;
  phone: string;
  text: string;
}

export type GatewaySendResult =
  | { ok: true; gatewayId: string }
  /** retryable: 5xx, timeout, connection refused, a throttling code; not: a bad number, a blocked text */
  | {
      ok: false;
      retryable: boolean;
      code: string;
      message: string;
      /** the request may have reached the gateway (timeout, connection cut after sending): resolve by lookup before sending again */
      ambiguous?: boolean;
    };

export type GatewayLookup =
  | { found: true; gatewayId: string; status: 'accepted' | 'delivered' | 'failed' }
  | { found: false }
  /** the gateway could not be asked now (down, timeout): try again later */
  | { found: 'unknown'; message: string };

/** An SMS gateway adapter (server/notify/http-gateway.ts is the generic HTTP one). */
export interface SmsGateway {
  send(m: GatewaySend): Promise<GatewaySendResult>;
  /** what the gateway knows of a client message id (resolves in-flight messages after a crash) */
  lookup(clientId: string): Promise<GatewayLookup>;
}

/** A delivery receipt or reply as the callback route hands it to the service. */
export type GatewayEvent =
  | { type: 'receipt'; clientId?: string; gatewayId?: string; status: 'delivered' | 'failed'; at?: number; code?: string }
  | { type: 'reply'; clientId?: string; gatewayId?: string; phone?: string; text: string; at?: number };
