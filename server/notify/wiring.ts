/**
 * The customer and notification parts as one server process composes them:
 * the customer store (topology + CSV import), the contact directory, the
 * notification service with the configured gateway, and SMS escalation of
 * alarms. Everything lives under dataDir, the same whichever telemetry store
 * is configured.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { AlarmView, Topology } from '../../contract/index.ts';
import type { ServerConfig } from '../config.ts';
import { CustomerStore } from '../customers/store.ts';
import { ContactDirectory } from './contacts.ts';
import { SmsEscalation } from './escalation.ts';
import { HttpSmsGateway } from './http-gateway.ts';
import { NotifyService } from './service.ts';

export interface NotifyParts {
  notify: NotifyService;
  customers: CustomerStore;
  contacts: ContactDirectory;
  /** the secret the receipt and reply callbacks are signed with */
  callbackSecret: string | undefined;
  callbackToleranceS: number;
  /** largest customer CSV accepted, bytes */
  importMaxBytes: number;
  start(alarms: { current(): AlarmView[]; now(): number } | null): Promise<void>;
  /** cluster mode: alarm escalations by SMS are sent only while `fn` says so (server/notify/escalation.ts) */
  gateEscalation(fn: () => boolean, handOverMs: number): void;
  stop(): Promise<void>;
}

export function createNotifyParts(config: ServerConfig, topology: Topology, log: Logger): NotifyParts {
  const n = config.notify;
  const g = n.gateway;
  const notify = new NotifyService(
    {
      dir: path.join(config.dataDir, 'notify'),
      ratePerS: n.ratePerS,
      concurrency: n.concurrency,
      maxAttempts: n.maxAttempts,
      retryBaseMs: n.retryBaseMs,
      retryMaxMs: n.retryMaxMs,
      lang: n.lang,
      templates: n.templates,
      replyWindowMs: n.replyWindowH * 3_600_000,
      retentionDays: n.retentionDays,
    },
    { gateway: g ? new HttpSmsGateway({ url: g.url, account: g.account, secret: g.secret, timeoutMs: g.timeoutMs, retryableCodes: g.retryableCodes }) : null, log: log.child({ component: 'notify' }) },
  );
  const customers = new CustomerStore({ dataDir: config.dataDir, ...(config.topologyFile ? { topologyFile: config.topologyFile } : {}), topology, log: log.child({ component: 'customers' }) });
  const contacts = new ContactDirectory({ dataDir: config.dataDir, ...(n.contactsFile ? { seedFile: n.contactsFile } : {}) });
  let escalation: SmsEscalation | null = null;
  let gate: [() => boolean, number] | null = null;
  let started = false;
  return {
    notify,
    customers,
    contacts,
    callbackSecret: n.callbackSecret ?? g?.secret,
    callbackToleranceS: n.callbackToleranceS,
    importMaxBytes: Math.round(n.importMaxMiB * 1_048_576),
    async start(alarms) {
      await customers.start();
      await contacts.start();
      await notify.start();
      started = true;
      if (!g) log.warn('notify.gateway not configured: notices are recorded and stay queued until one is');
      if (alarms && n.escalation.roles.length) {
        escalation = new SmsEscalation(
          { roles: n.escalation.roles, afterS: config.alarms.escalation.afterS, tickMs: Math.max(1000, config.alarms.tickMs), lang: n.lang, tzOffsetMin: n.tzOffsetMin },
          { alarms, contacts, notifier: notify, log: log.child({ component: 'escalation-sms' }) },
        );
        if (gate) escalation.gate(...gate);
        escalation.start();
      }
    },
    gateEscalation(fn, handOverMs) {
      gate = [fn, handOverMs];
      escalation?.gate(fn, handOverMs);
    },
    async stop() {
      escalation?.stop();
      escalation = null;
      if (started) await notify.stop();
      started = false;
    },
  };
}
