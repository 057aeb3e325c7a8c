/**
 * A real HTTP SMS gateway of ours for tests and the demo: it speaks the
 * generic gateway API of docs/notifications.md (signed send, status lookup by
 * client message id, signed receipts and replies posted to the server) and
 * misbehaves like a carrier gateway does: random answer delays, a share of
 * failures (HTTP 503 and a business "busy" code, half each), delivery
 * receipts posted seconds late, some twice, in batches, retried while the
 * server does not take them. It counts what it really sent: `stats().sent`
 * is the number of distinct messages accepted, `duplicateSends` the requests
 * for a client message id it had already accepted.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { prng } from './prng.ts';
import { signedHeaders, verifySignature } from '../server/notify/sign.ts';

export interface SmsGatewayOptions {
  secret: string;
  account?: string;
  /** share of send requests refused (half HTTP 503, half business code 1002) */
  failRate?: number;
  /** answer delay range, ms */
  delayMs?: [number, number];
  /** receipt lateness range after acceptance, ms */
  receiptDelayMs?: [number, number];
  /** share of receipts posted a second time */
  duplicateReceiptRate?: number;
  /** phones whose messages are accepted but never delivered (receipt `failed`, code UNDELIV) */
  undeliverable?: (phone: string) => boolean;
  /** where receipts go (POST, signed): the server's /api/notify/receipts; settable later */
  receiptUrl?: string;
  replyUrl?: string;
  seed?: number;
}

export interface SentSms {
  msgId: string;
  clientMsgId: string;
  phone: string;
  text: string;
  status: 'accepted' | 'delivered' | 'failed';
  at: number;
}

interface Receipt {
  msgId: string;
  clientMsgId: string;
  status: 'delivered' | 'failed';
  code?: string;
  at: number;
}

export class TestSmsGateway {
  private server: http.Server | null = null;
  private readonly rnd: () => number;
  private readonly byClient = new Map<string, SentSms>();
  private readonly byMsg = new Map<string, SentSms>();
  private due: Array<{ at: number; r: Receipt }> = [];
  private timer: NodeJS.Timeout | null = null;
  private posting = false;
  private seq = 0;
  url = '';
  receiptUrl: string | undefined;
  replyUrl: string | undefined;
  /** arrival time (epoch ms) of every send request, for rate checks */
  readonly sendTimes: number[] = [];
  readonly counts = { requests: 0, unsigned: 0, http503: 0, busy: 0, duplicateSends: 0, lookups: 0, receiptsPosted: 0, receiptPostFailures: 0 };

  constructor(private readonly o: SmsGatewayOptions) {
    this.rnd = prng(o.seed ?? 7);
    this.receiptUrl = o.receiptUrl;
    this.replyUrl = o.replyUrl;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.timer = setInterval(() => void this.postDue(), 100);
    return this.url;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = null;
  }

  /** Distinct messages accepted, receipts still to post, and the counters. */
  stats() {
    return { sent: this.byClient.size, pendingReceipts: this.due.length, ...this.counts };
  }

  messages(): SentSms[] {
    return [...this.byClient.values()];
  }

  /** The customer answers a message (or the latest to that phone): a signed reply to the server. */
  async reply(to: { phone: string; msgId?: string }, text: string): Promise<number> {
    if (!this.replyUrl) throw new Error('no reply url');
    const body = JSON.stringify({ replies: [{ phone: to.phone, text, at: Date.now(), ...(to.msgId ? { msgId: to.msgId } : {}) }] });
    const res = await fetch(this.replyUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...signedHeaders(this.o.secret, body) }, body });
    return res.status;
  }

  private between([a, b]: [number, number]): number {
    return a + Math.floor(this.rnd() * (b - a + 1));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, json: unknown) => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const signed = req.method === 'GET' ? u.search.slice(1) : body;
    if (!verifySignature(this.o.secret, req.headers, signed, Date.now(), 300).ok) {
      this.counts.unsigned++;
      return send(401, { code: 401, message: 'bad signature' });
    }
    if (req.method === 'GET' && u.pathname === '/sms/status') {
      this.counts.lookups++;
      const s = this.byClient.get(u.searchParams.get('clientMsgId') ?? '');
      return s ? send(200, { code: 0, msgId: s.msgId, status: s.status }) : send(404, { code: 404, message: 'unknown clientMsgId' });
    }
    if (req.method !== 'POST' || u.pathname !== '/sms/send') return send(404, { code: 404, message: 'no such endpoint' });
    this.counts.requests++;
    this.sendTimes.push(Date.now());
    let msg: { clientMsgId?: unknown; phone?: unknown; text?: unknown };
    try {
      msg = JSON.parse(body) as typeof msg;
    } catch {
      return send(400, { code: 400, message: 'bad JSON' });
    }
    if (typeof msg.clientMsgId !== 'string' || typeof msg.phone !== 'string' || typeof msg.text !== 'string') return send(200, { code: 2000, message: 'missing field' });
    const delay = this.between(this.o.delayMs ?? [5, 60]);
    const fail = this.rnd() < (this.o.failRate ?? 0.05);
    const wait = () => new Promise((r) => setTimeout(r, delay));
    if (fail) {
      await wait();
      if (this.rnd() < 0.5) {
        this.counts.http503++;
        return send(503, { code: 503, message: 'service unavailable' });
      }
      this.counts.busy++;
      return send(200, { code: 1002, message: 'system busy, try later' });
    }
    const known = this.byClient.get(msg.clientMsgId);
    if (known) {
      // idempotent on clientMsgId: no second SMS, but counted
      this.counts.duplicateSends++;
      await wait();
      return send(200, { code: 0, msgId: known.msgId });
    }
    // recorded at arrival, before the answer: a lookup after a client crash finds it
    const s: SentSms = { msgId: `G${++this.seq}`, clientMsgId: msg.clientMsgId, phone: msg.phone, text: msg.text, status: 'accepted', at: Date.now() };
    this.byClient.set(s.clientMsgId, s);
    this.byMsg.set(s.msgId, s);
    const undeliverable = this.o.undeliverable?.(s.phone) ?? false;
    const r: Receipt = { msgId: s.msgId, clientMsgId: s.clientMsgId, status: undeliverable ? 'failed' : 'delivered', at: 0, ...(undeliverable ? { code: 'UNDELIV' } : {}) };
    const lateness = this.between(this.o.receiptDelayMs ?? [1000, 3000]);
    this.due.push({ at: Date.now() + lateness, r });
    if (this.rnd() < (this.o.duplicateReceiptRate ?? 0.1)) this.due.push({ at: Date.now() + lateness + this.between([200, 2000]), r });
    await wait();
    return send(200, { code: 0, msgId: s.msgId });
  }

  /** Posts the receipts that are due, up to 500 a request; on failure they stay and are posted again. */
  private async postDue(): Promise<void> {
    if (this.posting || !this.receiptUrl) return;
    const now = Date.now();
    const ready = this.due.filter((d) => d.at <= now).slice(0, 500);
    if (!ready.length) return;
    this.posting = true;
    const batch = ready.map((d) => {
      const s = this.byMsg.get(d.r.msgId)!;
      s.status = d.r.status;
      return { ...d.r, at: now };
    });
    const body = JSON.stringify({ receipts: batch });
    try {
      const res = await fetch(this.receiptUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...signedHeaders(this.o.secret, body) }, body, signal: AbortSignal.timeout(5000) });
      if (res.ok) {
        const sent = new Set(ready);
        this.due = this.due.filter((d) => !sent.has(d));
        this.counts.receiptsPosted += batch.length;
      } else this.counts.receiptPostFailures++;
    } catch {
      this.counts.receiptPostFailures++;
    } finally {
      this.posting = false;
    }
  }
}
