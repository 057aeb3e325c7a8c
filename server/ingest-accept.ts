/**
 * What the ingest takes from one readings message: the contract's validation
 * (contract/readings.ts), the binding to the sending agent and the bounds
 * (server/ingest-admission.ts), the time window, topology tags and derived
 * quantities. Every refusal is counted by reason (a fixed set of label
 * values; the agent label only for agents the topology names), logged
 * rate-limited (server/reject-log.ts), and a binding violation of a known
 * agent goes to the audit log.
 */
import type { Logger } from 'pino';
import { parseReadingsPayload, spoolDeviceId, type DevicePlace, type ReadingsTopicParts } from '../contract/index.ts';
import type { StoredReading } from './store/types.ts';
import type { Metrics } from './metrics.ts';
import type { AuditLog } from './audit.ts';
import { addDerived } from './derive.ts';
import { Admission, type AdmissionReason } from './ingest-admission.ts';
import { RejectLog } from './reject-log.ts';
import { CLOCK_AHEAD_MS, readingTime } from './rules/engine.ts';

/** An accepted message: what to store, what the rules see, the seqs it settles and its envelope. */
export interface AcceptedMessage {
  stored: StoredReading[];
  /** the stored readings the rules evaluate (devices bound to the agent; not unknown devices) */
  ruled: StoredReading[];
  /** seqs settled: the stored readings' and the refused readings' */
  seqs: number[];
  from?: number;
  next?: number;
  skip?: [number, number][];
}

/** Refusals that say the agent's configuration disagrees with the topology: audited for a known agent. */
const BINDING: ReadonlySet<string> = new Set<AdmissionReason>(['site_mismatch', 'not_bound', 'unknown_device']);

export class Acceptance {
  /** device → the newest timestamp of its live readings (what the rules evaluate in order) */
  private readonly newestLive = new Map<string, number>();
  /** device → when its clock was last reported ahead of ours */
  private readonly aheadWarnedAt = new Map<string, number>();

  constructor(
    /** replaced whole when the topology is reloaded (Ingest.topologyChanged) */
    public admission: Admission,
    private readonly deps: {
      metrics: Metrics;
      log: Logger;
      rejectLog: RejectLog;
      devices: ReadonlyMap<string, DevicePlace>;
      audit?: AuditLog;
    },
  ) {}

  /** Counts a refused message or reading, logs it rate-limited and audits a known agent's binding violation. */
  reject(reason: string, agent: string, details: () => Record<string, unknown>, n = 1): void {
    const { metrics, rejectLog, audit } = this.deps;
    metrics.rejected.inc({ reason, agent: this.admission.agentLabel(agent) }, n);
    rejectLog.warn(reason, 'input rejected', details);
    if (audit && BINDING.has(reason) && this.admission.isKnownAgent(agent)) {
      const d = details();
      audit.record({ kind: 'reading_rejected', actor: agent, target: String(d.deviceId ?? d.topic ?? ''), detail: reason });
    }
  }

  /** One readings message as received on `parts`' topic; null when it is refused as a whole (counted). */
  message(parts: ReadingsTopicParts, topic: string, payload: Buffer, arrived: number): AcceptedMessage | null {
    const { agent, site } = parts;
    const refused = this.admission.message(site, agent);
    if (refused) {
      this.reject(refused, agent, () => ({ topic: topic.slice(0, 200), agent, site }));
      return null;
    }
    const result = parseReadingsPayload(payload, agent);
    if (!result.ok) {
      const first = result.errors[0]!;
      this.reject(first.reason, agent, () => ({ agent, errors: result.errors.slice(0, 3), bytes: payload.length }));
      return null;
    }
    const { readings, rejected, rejectedSeqs, from, next, skip } = result.value;
    if (rejected.length) {
      // one count per rejected reading, by its first reason
      const byPath = new Map<string, string>();
      for (const e of rejected) {
        const key = e.path.replace(/^(readings\[\d+\]).*$/, '$1');
        if (!byPath.has(key)) byPath.set(key, e.reason);
      }
      const byReason = new Map<string, number>();
      for (const reason of byPath.values()) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
      for (const [reason, n] of byReason) this.reject(reason, agent, () => ({ agent, errors: rejected.slice(0, 3), count: byPath.size }), n);
    }
    if (skip) this.deps.rejectLog.warn('skip', 'agent skips seqs it could not read back from its spool', () => ({ agent, skip: skip.slice(0, 10) }));
    const stored: StoredReading[] = [];
    let ruled: StoredReading[] = stored;
    const seqs: number[] = [];
    const spool = spoolDeviceId(agent);
    for (const r of readings) {
      const refusedAt = this.admission.time(r.ts, arrived);
      const how = refusedAt ?? this.admission.device(r.device, site, agent, spool);
      if (how !== 'rules' && how !== 'store_only') {
        this.reject(how, agent, () => ({ agent, deviceId: r.device.slice(0, 256), ts: r.ts }));
        // refused, and handled: sending it again would not help
        seqs.push(r.seq);
        continue;
      }
      const place = this.deps.devices.get(r.device);
      if (r.late !== true && how === 'rules') this.checkTime(r.device, r.ts, arrived, agent);
      const s: StoredReading = {
        site: place?.site ?? site,
        room: place?.room ?? '',
        transformer: place?.transformer ?? '',
        line: place?.line ?? '',
        device: r.device,
        ts: r.ts,
        q: r.q,
        late: r.late === true,
        v: r.q === 'comm_loss' ? r.v : addDerived(r.v, place),
      };
      if (how === 'store_only' && ruled === stored) ruled = stored.slice();
      stored.push(s);
      if (how === 'rules' && ruled !== stored) ruled.push(s);
      seqs.push(r.seq);
    }
    // a rejected reading is handled: sending it again would not help
    for (const seq of rejectedSeqs) seqs.push(seq);
    const out: AcceptedMessage = { stored, ruled, seqs };
    if (from !== undefined) out.from = from;
    if (next !== undefined) out.next = next;
    if (skip !== undefined) out.skip = skip;
    return out;
  }

  /**
   * Counts a live reading the rules cannot take in its own time: one not
   * newer than the device's last (a QoS 1 redelivery, or out of order — the
   * rules skip it), or one stamped more than CLOCK_AHEAD_MS ahead of the
   * server (the rules take it as that far ahead). The second means the
   * agent's clock is wrong: said once an hour per device.
   */
  private checkTime(device: string, ts: number, now: number, agent: string): void {
    const newest = this.newestLive.get(device);
    if (newest !== undefined && ts <= newest) this.deps.metrics.outOfTime.inc({ reason: 'not_newer' });
    // as the rules see it: a stamp far ahead is taken as CLOCK_AHEAD_MS ahead, so the next real readings are newer again
    else this.newestLive.set(device, readingTime(ts, now));
    if (ts <= now + CLOCK_AHEAD_MS) return;
    this.deps.metrics.outOfTime.inc({ reason: 'clock_ahead' });
    const warned = this.aheadWarnedAt.get(device);
    if (warned !== undefined && now - warned < 3_600_000) return;
    this.aheadWarnedAt.set(device, now);
    this.deps.log.warn(
      { agent, deviceId: device, aheadMs: ts - now },
      `reading stamped ${Math.round((ts - now) / 1000)} s ahead of the server clock: the rules take it as ${CLOCK_AHEAD_MS / 1000} s ahead; check the agent's time (NTP)`,
    );
  }
}
