/**
 * What a delivery receipt or a reply does to a message: a pure decision over
 * the message's state (no clock, no I/O). Receipts that name no known message
 * are kept (`kept`) to be applied when a message learns that gateway id; the
 * same receipt twice changes nothing the second time (`duplicate`).
 *
 *   receipt delivered: queued | sending | sent | failed → delivered
 *   receipt failed:    queued | sending | sent → failed (the gateway sent it; it is not sent again)
 *   reply:             sending | sent | delivered → read
 */
import type { OrphanEvent } from './journal.ts';
import type { GatewayEvent, NotifyMessage } from './types.ts';

export type EventOutcome = 'applied' | 'duplicate' | 'kept' | 'unmatched';

export interface EventContext {
  find(clientId: string | undefined, gatewayId: string | undefined): NotifyMessage | undefined;
  /** the latest message sent to this phone within the reply window */
  latestTo(phone: string): NotifyMessage | undefined;
  orphans: ReadonlyMap<string, OrphanEvent>;
}

export interface EventResult {
  outcome: EventOutcome;
  message?: NotifyMessage;
  fields?: Partial<NotifyMessage>;
  orphan?: OrphanEvent;
}

export function applyEvent(ctx: EventContext, e: GatewayEvent, now: number): EventResult {
  const at = e.at ?? now;
  const m = ctx.find(e.clientId, e.gatewayId) ?? (e.type === 'reply' && !e.clientId && !e.gatewayId && e.phone ? ctx.latestTo(e.phone) : undefined);
  if (!m) {
    if (!e.clientId && !e.gatewayId) return { outcome: 'unmatched' };
    const k = `${e.type === 'receipt' ? `r:${e.status}` : 'p'}:${e.gatewayId ?? ''}:${e.clientId ?? ''}`;
    if (ctx.orphans.has(k)) return { outcome: 'duplicate' };
    const orphan: OrphanEvent = { k, kind: e.type, at };
    if (e.clientId) orphan.clientId = e.clientId;
    if (e.gatewayId) orphan.gatewayId = e.gatewayId;
    if (e.type === 'receipt') {
      orphan.status = e.status;
      if (e.code) orphan.code = e.code;
    } else {
      orphan.text = e.text;
      if (e.phone) orphan.phone = e.phone;
    }
    return { outcome: 'kept', orphan };
  }
  const gw: Partial<NotifyMessage> = e.gatewayId && !m.gatewayId ? { gatewayId: e.gatewayId } : {};
  if (e.type === 'receipt') {
    if (e.status === 'delivered') {
      if (m.state === 'delivered' || m.state === 'read') return { outcome: 'duplicate', message: m };
      return { outcome: 'applied', message: m, fields: { ...gw, state: 'delivered', deliveredAt: at } };
    }
    if (m.state === 'queued' || m.state === 'sending' || m.state === 'sent')
      return { outcome: 'applied', message: m, fields: { ...gw, state: 'failed', failedAt: at, error: `receipt: ${e.code ?? 'undelivered'}` } };
    return { outcome: 'duplicate', message: m };
  }
  if (m.state === 'read') return { outcome: 'duplicate', message: m };
  if (m.state === 'queued' || m.state === 'failed') return { outcome: 'unmatched', message: m };
  return { outcome: 'applied', message: m, fields: { ...gw, state: 'read', readAt: at, reply: e.text.slice(0, 500) } };
}
