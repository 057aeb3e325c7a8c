/**
 * HMAC-SHA256 request signing shared by the gateway adapter (our requests)
 * and the receipt/reply callbacks (the gateway's): the signature is the hex
 * HMAC of `<timestamp>.<raw body>` with the shared secret, sent with the
 * timestamp (epoch seconds) in two headers. A timestamp outside the
 * tolerance is refused, which bounds replays.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-gw-signature';
export const TIMESTAMP_HEADER = 'x-gw-timestamp';

export function signBody(secret: string, tsS: number, body: string): string {
  return createHmac('sha256', secret).update(`${tsS}.${body}`).digest('hex');
}

export function signedHeaders(secret: string, body: string, nowMs = Date.now()): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return { [TIMESTAMP_HEADER]: String(ts), [SIGNATURE_HEADER]: signBody(secret, ts, body) };
}

export type Verdict = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'bad' };

/** Checks a callback's signature headers against its raw body. */
export function verifySignature(secret: string, headers: Record<string, string | string[] | undefined>, body: string, nowMs: number, toleranceS: number): Verdict {
  const sig = headers[SIGNATURE_HEADER];
  const tsText = headers[TIMESTAMP_HEADER];
  if (typeof sig !== 'string' || typeof tsText !== 'string' || !sig || !tsText) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(tsText)) return { ok: false, reason: 'bad' };
  const ts = Number(tsText);
  if (Math.abs(nowMs / 1000 - ts) > toleranceS) return { ok: false, reason: 'stale' };
  const want = Buffer.from(signBody(secret, ts, body), 'hex');
  const got = /^[0-9a-fA-F]{64}$/.test(sig) ? Buffer.from(sig, 'hex') : Buffer.alloc(0);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: 'bad' };
  return { ok: true };
}
