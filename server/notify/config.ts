/** The `notify` section of the server config (docs/configuration.md, Notifications). */
import { z } from 'zod';

const TemplateSchema = z.strictObject({ zh: z.string().min(1), en: z.string().min(1) });

export const NotifyConfigSchema = z.strictObject({
  /** the SMS gateway (docs/notifications.md, Gateway API); absent → messages are recorded and stay queued */
  gateway: z.strictObject({
    url: z.url(),
    account: z.string().min(1),
    /** HMAC-SHA256 secret for our requests and the gateway's callbacks */
    secret: z.string().min(16),
    /** per request, ms */
    timeoutMs: z.number().int().positive().default(10_000),
    /** business codes worth another attempt (busy, throttled) */
    retryableCodes: z.array(z.number().int()).default([1001, 1002]),
  }).optional(),
  /** secret of the receipt and reply callbacks when it differs from gateway.secret */
  callbackSecret: z.string().min(16).optional(),
  /** how far a callback's timestamp may be from our clock, s */
  callbackToleranceS: z.number().int().positive().default(300),
  /** gateway requests per second (sends and lookups) */
  ratePerS: z.number().positive().max(10_000).default(20),
  /** gateway requests in flight at most */
  concurrency: z.number().int().min(1).max(256).default(8),
  /** send attempts in all before a message is failed */
  maxAttempts: z.number().int().min(1).max(20).default(5),
  /** first retry delay, ms; doubles each attempt up to retryMaxMs */
  retryBaseMs: z.number().int().min(10).default(5_000),
  retryMaxMs: z.number().int().min(10).default(600_000),
  /** language of composed texts */
  lang: z.enum(['zh', 'en']).default('zh'),
  /** zone of the times written in texts, minutes east of UTC (480: Beijing) */
  tzOffsetMin: z.number().int().min(-720).max(840).default(480),
  /** the hotline put in customer notices when the caller gives none */
  hotline: z.string().min(1).default('95598'),
  /** a reply naming no message counts as read for the latest message to that phone sent within this many hours */
  replyWindowH: z.number().positive().default(72),
  /** final messages older than this are dropped at start (their keys with them) */
  retentionDays: z.number().int().min(1).default(400),
  /** template texts by id, replacing or adding to the built-in ones */
  templates: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/), TemplateSchema).default({}),
  /** YAML contact directory used while none was saved through PUT /api/contacts */
  contactsFile: z.string().optional(),
  /** alarm escalation by SMS to the contact directory, besides the webhook */
  escalation: z.strictObject({
    /** roles of the people who get escalated alarms of their stations; empty → no SMS escalation */
    roles: z.array(z.string().min(1)).default([]),
  }).prefault({}),
  /** largest customer CSV accepted by POST /api/customers/import, MiB */
  importMaxMiB: z.number().positive().max(1024).default(64),
}).prefault({});

export type NotifyConfig = z.infer<typeof NotifyConfigSchema>;
