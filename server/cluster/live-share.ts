/**
 * Live values shared between the servers of a cluster (docs/cluster.md, "One
 * view of live values"): the readings each server handles go, one frame per
 * agent message, on the core NATS subject `gwc.live` to every other server's
 * live hub (its WebSocket clients and its REST latest values). At most once:
 * a dashboard resyncs from the store.
 *
 * On a connection of its own opened with `noEcho`: NATS does not send a
 * server its own frames back. On the server's main connection every frame
 * came back to the server that sent it and was decoded there only to be
 * dropped — a JSON parse of every reading the server handled, and the
 * same bytes through the broker again. A server that is the only live member
 * (as of its last lease round) sends nothing: nobody would read it.
 */
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { StoredReading } from '../store/types.ts';

/** core NATS subject of the live values every server handles, for the others' dashboards */
export const LIVE_SUBJECT = 'gwc.live';

export class LiveShare {
  private nc: NatsConnection | null = null;
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();
  /** frames sent and frames of others received (tests, diagnostics) */
  sent = 0;
  received = 0;

  constructor(
    private readonly id: string,
    private readonly deps: {
      log: Logger;
      /** the other servers' live values go here (this server's hub); absent → this server only sends */
      live?: { publish(readings: readonly StoredReading[]): void };
      /** live servers as of the last lease round, this one included */
      members: () => readonly string[];
    },
  ) {}

  /** Opens the share's own connection (`opts`: the server's NATS options) and listens to the others. */
  async start(opts: ConnectionOptions): Promise<void> {
    if (this.nc) return;
    const nc = (this.nc = await connect({ ...opts, name: `${opts.name ?? 'gridwatch'}-live`, noEcho: true }));
    nc.closed().then((err) => err && this.deps.log.error({ err }, 'NATS connection of the live share closed'));
    const live = this.deps.live;
    if (!live) return;
    const sub = nc.subscribe(LIVE_SUBJECT);
    void (async () => {
      for await (const m of sub) {
        try {
          const msg = JSON.parse(this.dec.decode(m.data)) as { from?: string; readings?: StoredReading[] };
          // noEcho keeps this connection's own frames away; one with this id is from an earlier run of this server
          if (msg.from === this.id || !Array.isArray(msg.readings)) continue;
          this.received++;
          live.publish(msg.readings);
        } catch (err) {
          this.deps.log.warn({ err }, 'live values from another server unreadable; skipped');
        }
      }
    })();
  }

  /**
   * Sends the live values of one message handled here to the other servers;
   * nothing while this server is alone or disconnected. Late readings
   * (backfill, older than their device's newest) are left out: no live hub
   * takes a reading older than the one it has, and a spool's catch-up is
   * mostly late.
   */
  publish(readings: readonly StoredReading[]): void {
    const nc = this.nc;
    if (!nc || nc.isClosed() || readings.length === 0) return;
    if (!this.othersLive()) return;
    let live = readings;
    for (const r of readings)
      if (r.late) {
        live = readings.filter((x) => !x.late);
        break;
      }
    if (live.length === 0) return;
    nc.publish(LIVE_SUBJECT, this.enc.encode(JSON.stringify({ from: this.id, readings: live })));
    this.sent++;
  }

  private othersLive(): boolean {
    for (const m of this.deps.members()) if (m !== this.id) return true;
    return false;
  }

  /** Resolves once the NATS server answered a round trip on the share's connection. */
  async flush(): Promise<void> {
    await this.nc?.flush();
  }

  /** messages and bytes of the share's connection so far (nats.js counters) */
  stats(): { inMsgs: number; outMsgs: number; inBytes: number; outBytes: number } {
    return this.nc?.stats() ?? { inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0 };
  }

  async stop(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    if (nc) await nc.drain().catch(() => nc.close());
  }
}
