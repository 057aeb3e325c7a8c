/**
 * The `cluster` section of the server configuration: opt-in scale-out on a
 * NATS cluster (docs/cluster.md). Absent → the single server with its
 * embedded or external MQTT broker, unchanged.
 */
import { z } from 'zod';

const NATS_URL = /^(nats|tls):\/\/[^\s/]+$/;
const MQTT_URL = /^mqtts?:\/\/[^\s/]+$/;

export const ClusterConfigSchema = z.strictObject({
  nats: z.strictObject({
    /** client URLs of the NATS nodes (`nats://host:port`); the client fails over between them */
    servers: z.array(z.string().regex(NATS_URL, 'a nats://host:port URL')).min(1),
    user: z.string().optional(),
    pass: z.string().optional(),
    token: z.string().optional(),
  }),
  /** the nodes' MQTT gateways (`mqtt://host:port`): the server's watermarks and presence go through them, agents connect to any */
  mqttUrls: z.array(z.string().regex(MQTT_URL, 'an mqtt://host:port URL')).min(1),
  /** this server's name in the leases; unique among the servers; default `<hostname>-<pid>` */
  serverId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
  /** partitions of the readings: must equal the n of the NATS subject mapping `{{partition(n,2)}}` */
  partitions: z.number().int().min(1).max(1024).default(16),
  /** a partition lease lapses this long after its owner's last renewal, ms (takeover time is about this plus renewMs) */
  leaseTtlMs: z.number().int().min(2000).max(120_000).default(6000),
  /** how often leases and membership are renewed and partitions rebalanced, ms */
  renewMs: z.number().int().min(200).max(30_000).default(1500),
  /** JetStream redelivers a message not acknowledged (stored) within this, ms */
  ackWaitMs: z.number().int().min(1000).default(60_000),
  /** messages a partition's consumer may hold unacknowledged (backpressure: the store confirms, then the ack) */
  maxAckPending: z.number().int().min(1).default(2000),
  /** how often the owner of a partition saves its rule state in the KV bucket `<prefix>_rulestate` for a takeover, ms */
  ruleStateSaveMs: z.number().int().min(200).max(60_000).default(2000),
  stream: z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]+$/).default('GW_INGEST'),
    /** copies of each message in the NATS cluster */
    replicas: z.number().int().min(1).max(5).default(3),
    /** what no server took within this is dropped by NATS (the agents' spools still hold it), s */
    maxAgeS: z.number().int().positive().default(7 * 86_400),
  }).prefault({}),
  /** the alarm stream `<prefix>_alarms` (transitions and escalations of every server): its bounds, oldest dropped first */
  alarmStream: z.strictObject({
    /** an entry older than this is dropped, s; longer than any server stays disconnected */
    maxAgeS: z.number().int().min(60).default(86_400),
    /** the stream's size bound, bytes */
    maxBytes: z.number().int().min(1024 * 1024).default(1024 * 1024 * 1024),
  }).prefault({}),
  /** prefix of the KV buckets (leases, members, alarm sequence, rule state) and of the alarm stream */
  bucketPrefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('gridwatch'),
}).refine((c) => c.renewMs * 2 <= c.leaseTtlMs, { message: 'renewMs must be at most half of leaseTtlMs', path: ['renewMs'] });

export type ClusterConfig = z.infer<typeof ClusterConfigSchema>;
