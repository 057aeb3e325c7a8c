/** A notification service on a real Fastify app with its callback routes, and the test gateway posting to it. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { HttpSmsGateway } from '../../server/notify/http-gateway.ts';
import { notifyRoutes } from '../../server/notify/routes.ts';
import { NotifyService, type NotifyOptions } from '../../server/notify/service.ts';
import type { NotifyRequest } from '../../server/notify/types.ts';
import { testLog } from '../support/logger.ts';
import { TestSmsGateway, type SmsGatewayOptions } from '../support/sms-gateway.ts';

export const SECRET = 'test-receipt-secret';

export interface NotifyRig {
  gateway: TestSmsGateway;
  service: NotifyService;
  app: FastifyInstance;
  url: string;
  dir: string;
  /** stops the service and app (the journal stays) and starts new ones on the same directory */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export const RIG_OPTIONS = { ratePerS: 2000, concurrency: 32, maxAttempts: 6, retryBaseMs: 50, retryMaxMs: 1000, lang: 'zh', replyWindowMs: 86_400_000, retentionDays: 180, tickMs: 20 } satisfies Omit<NotifyOptions, 'dir'>;

export async function notifyRig(gw: Partial<SmsGatewayOptions> = {}, opts: Partial<NotifyOptions> = {}): Promise<NotifyRig> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-notify-'));
  const gateway = new TestSmsGateway({ secret: SECRET, receiptDelayMs: [200, 800], delayMs: [1, 20], ...gw });
  await gateway.start();
  const rig = { gateway, dir } as NotifyRig;
  const open = async () => {
    rig.service = new NotifyService({ ...RIG_OPTIONS, dir, ...opts }, {
      gateway: new HttpSmsGateway({ url: gateway.url, account: 'gw', secret: SECRET, timeoutMs: 5000, retryableCodes: [1001, 1002] }),
      log: testLog,
    });
    await rig.service.start();
    rig.app = Fastify();
    await rig.app.register(notifyRoutes, { notify: rig.service, secret: SECRET, toleranceS: 300 });
    await rig.app.listen({ host: '127.0.0.1', port: 0 });
    rig.url = `http://127.0.0.1:${(rig.app.server.address() as AddressInfo).port}`;
    gateway.receiptUrl = `${rig.url}/api/notify/receipts`;
    gateway.replyUrl = `${rig.url}/api/notify/replies`;
  };
  await open();
  rig.restart = async () => {
    await rig.app.close();
    await rig.service.stop();
    await open();
  };
  rig.close = async () => {
    await rig.app.close();
    await rig.service.stop();
    await gateway.stop();
    await rm(dir, { recursive: true, force: true });
  };
  return rig;
}

export function notices(n: number, ref = 'P1', from = 0): NotifyRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `plan:${ref}:${from + i}`,
    to: { phone: `139${String(10_000_000 + from + i).slice(-8)}`, customer: `C${from + i}` },
    template: 'outage_planned',
    vars: { customer: `用户${from + i}`, reason: '线路检修', start: '12月8日 08:00', end: '12月8日 17:00', scope: '10kV 东一线', hotline: '95598' },
    purpose: 'outage_planned' as const,
    ref: { kind: 'plan', id: ref },
  }));
}

export async function until(cond: () => boolean, timeoutMs = 30_000, what = 'condition', everyMs = 25): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
