/** Prometheus metrics of one server instance (own registry: tests run several). */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CLOCK_AHEAD_MS } from './rules/engine.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly messagesIn = new Counter({ name: 'gridwatch_messages_in_total', help: 'MQTT readings messages received', registers: [this.registry] });
  readonly readingsIn = new Counter({ name: 'gridwatch_readings_in_total', help: 'readings accepted', registers: [this.registry] });
  readonly rejected = new Counter({
    name: 'gridwatch_readings_rejected_total',
    // label values from bounded sets only: reason is a fixed enum, agent an agent the topology names or '' (any other)
    help: 'messages or readings rejected at the ingest boundary, by reason (contract, binding, bounds, time) and agent (the topology\'s agents; \'\' for any other)',
    labelNames: ['reason', 'agent'] as const,
    registers: [this.registry],
  });
  readonly outOfTime = new Counter({
    name: 'gridwatch_readings_out_of_time_total',
    help: `live readings the rules could not take in their own time, by reason: not_newer (not newer than the device's last: a redelivery or out of order; stored, not evaluated), clock_ahead (stamped more than ${CLOCK_AHEAD_MS / 1000} s ahead of the server: evaluated as ${CLOCK_AHEAD_MS / 1000} s ahead)`,
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly unknownDevices = new Gauge({
    name: 'gridwatch_ingest_unknown_devices',
    help: 'distinct device ids outside the topology taken (bounded by ingest.maxUnknownDevices)',
    registers: [this.registry],
  });
  readonly stored = new Counter({ name: 'gridwatch_readings_stored_total', help: 'readings durably stored', registers: [this.registry] });
  readonly storeErrors = new Counter({ name: 'gridwatch_store_write_errors_total', help: 'failed store writes (retried)', registers: [this.registry] });
  readonly storeLatency = new Histogram({
    name: 'gridwatch_store_write_seconds',
    help: 'store write latency per batch',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'gridwatch_store_batch_size',
    help: 'readings per store write',
    buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'gridwatch_ingest_queue_depth', help: 'readings awaiting the store', registers: [this.registry] });
  readonly storeLag = new Gauge({ name: 'gridwatch_store_lag_seconds', help: 'age of the oldest reading not yet stored', registers: [this.registry] });
  readonly wsClients = new Gauge({ name: 'gridwatch_ws_clients', help: 'connected WebSocket clients', registers: [this.registry] });
  readonly wsDroppedFrames = new Counter({ name: 'gridwatch_ws_dropped_frames_total', help: 'live frames skipped for slow clients', registers: [this.registry] });
  readonly wsDisconnectedSlow = new Counter({ name: 'gridwatch_ws_slow_disconnects_total', help: 'clients disconnected for stalling', registers: [this.registry] });

  /** rate() of it is the event-loop utilisation: near 1, the one thread that ingests, evaluates and pushes is saturated */
  readonly eventLoopBusy = new Counter({
    name: 'gridwatch_event_loop_busy_seconds_total',
    help: 'time the main thread was busy running callbacks (not waiting for I/O)',
    registers: [this.registry],
    collect() {
      this.reset();
      this.inc(performance.eventLoopUtilization().active / 1000);
    },
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** rejected counts as { reason: { agent: n } } for the health route */
  async rejectedSummary(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const v of (await this.rejected.get()).values) {
      const reason = String(v.labels.reason);
      const agent = String(v.labels.agent);
      (out[reason] ??= {})[agent] = v.value;
    }
    return out;
  }
}
