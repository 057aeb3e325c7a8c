/**
 * The generic HTTP SMS-gateway adapter (docs/notifications.md, Gateway API):
 *   POST <url>/sms/send    {account, clientMsgId, phone, text} → {code: 0, msgId} | {code: n, message}
 *   GET  <url>/sms/status?account=&clientMsgId=  → {code: 0, msgId, status} | 404
 * Both signed with the shared secret (sign.ts). The gateway is expected to
 * treat clientMsgId as an idempotency key; the service does not rely on it
 * alone (it looks up before sending an in-flight message again).
 */
import type { GatewayLookup, GatewaySend, GatewaySendResult, SmsGateway } from './types.ts';
import { signedHeaders } from './sign.ts';

export interface HttpGatewayOptions {
  url: string;
  account: string;
  secret: string;
  /** per request, ms */
  timeoutMs: number;
  /** business codes worth another attempt (busy, throttled); any other non-zero code fails the message */
  retryableCodes: readonly number[];
}

/** Errors raised before a byte left: the gateway cannot have the message. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function causeCode(e: unknown): string {
  const c = (e as { cause?: { code?: string } }).cause;
  return c?.code ?? (e as { code?: string }).code ?? (e as Error).name ?? 'ERROR';
}

export class HttpSmsGateway implements SmsGateway {
  constructor(private readonly o: HttpGatewayOptions) {}

  async send(m: GatewaySend): Promise<GatewaySendResult> {
    const body = JSON.stringify({ account: this.o.account, clientMsgId: m.clientId, phone: m.phone, text: m.text });
    let res: Response;
    try {
      res = await fetch(`${this.o.url.replace(/\/$/, '')}/sms/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signedHeaders(this.o.secret, body) },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (e) {
      const code = causeCode(e);
      return { ok: false, retryable: true, code, message: (e as Error).message, ambiguous: !NOT_SENT.has(code) };
    }
    let json: { code?: unknown; msgId?: unknown; message?: unknown } = {};
    let text = '';
    try {
      text = await res.text();
      json = JSON.parse(text) as typeof json;
    } catch {
      // a body that is not JSON: judged by the status alone
    }
    if (res.status >= 500) return { ok: false, retryable: true, code: `HTTP_${res.status}`, message: text.slice(0, 200) };
    if (res.status !== 200) return { ok: false, retryable: res.status === 429, code: `HTTP_${res.status}`, message: text.slice(0, 200) };
    if (json.code === 0 && typeof json.msgId === 'string' && json.msgId) return { ok: true, gatewayId: json.msgId };
    const code = typeof json.code === 'number' ? json.code : NaN;
    if (!Number.isFinite(code)) return { ok: false, retryable: true, code: 'BAD_REPLY', message: text.slice(0, 200), ambiguous: true };
    return { ok: false, retryable: this.o.retryableCodes.includes(code), code: `BIZ_${code}`, message: String(json.message ?? '').slice(0, 200) };
  }

  async lookup(clientId: string): Promise<GatewayLookup> {
    const qs = new URLSearchParams({ account: this.o.account, clientMsgId: clientId }).toString();
    try {
      const res = await fetch(`${this.o.url.replace(/\/$/, '')}/sms/status?${qs}`, {
        headers: signedHeaders(this.o.secret, qs),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      const json = (await res.json().catch(() => ({}))) as { code?: unknown; msgId?: unknown; status?: unknown };
      if (res.status === 404) return { found: false };
      if (res.status !== 200 || json.code !== 0 || typeof json.msgId !== 'string') return { found: 'unknown', message: `HTTP ${res.status}` };
      const status = json.status === 'delivered' || json.status === 'failed' ? json.status : 'accepted';
      return { found: true, gatewayId: json.msgId, status };
    } catch (e) {
      return { found: 'unknown', message: (e as Error).message };
    }
  }
}
