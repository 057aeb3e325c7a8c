/**
 * The agent's DL/T 645 meters: one bus per serial line or gateway, one device
 * poller per meter (the same poller, schedule, back-off and comm_loss
 * readings as Modbus devices), and the opt-in broadcast time sync. Does no
 * I/O until start(); stop() waits for polls in progress and closes the buses.
 */
import type { Logger } from '../log.ts';
import type { DeepReadonly } from '../freeze.ts';
import { DevicePoller, type DeviceStats, type DeviceTotals, type UnsequencedReading } from '../poller.ts';
import type { PollSchedule } from '../schedule.ts';
import { Dlt645Bus, type Dlt645BusStats } from './bus.ts';
import { dlt645BusKey } from './bus-key.ts';
import type { Dlt645Config, Dlt645TransportConfig } from './config.ts';
import { timeSyncRequest } from './frame.ts';
import { serialLink, tcpLink, type LinkFactory } from './link.ts';
import type { Dlt645ProfileRegistry } from './reads.ts';
import { Dlt645Source } from './source.ts';

export interface Dlt645MetersDeps {
  /** what the devices' profile ids resolve to, the section's own `profiles` included (config.ts dlt645Registry) */
  profiles: Dlt645ProfileRegistry;
  clock: () => number;
  log: Logger;
  emit: (r: UnsequencedReading) => void;
  /** the timer the polls run on; default one the process shares */
  schedule?: PollSchedule;
}

function linkOf(t: DeepReadonly<Dlt645TransportConfig>): LinkFactory {
  switch (t.kind) {
    case 'tcp':
      return tcpLink(t.host, t.port);
    case 'serial':
      return serialLink({ path: t.path, baudRate: t.baudRate, dataBits: t.dataBits, parity: t.parity, stopBits: t.stopBits });
    default: {
      const never: never = t;
      throw new Error(`unknown transport ${String((never as { kind: unknown }).kind)}`);
    }
  }
}

/** 4 characters of 11 bits (8E1) at the line's speed, at least 5 ms: meters want a pause between frames */
export function defaultFrameGapMs(baudRate: number): number {
  return Math.max(5, Math.ceil((4 * 11 * 1000) / baudRate));
}

/** Ids of profiles the config names that the registry (the section's own profiles included) does not have, as config problems. */
export function missingDlt645Profiles(config: DeepReadonly<Dlt645Config> | undefined, profiles: Dlt645ProfileRegistry): string[] {
  return (config?.devices ?? []).flatMap((d, i) => (profiles.has(d.profile) ? [] : [`dlt645.devices[${i}].profile: unknown DL/T 645 profile "${d.profile}"`]));
}

export class Dlt645Meters {
  private readonly buses = new Map<string, Dlt645Bus>();
  private readonly pollers: DevicePoller[] = [];
  private syncTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: DeepReadonly<Dlt645Config>,
    private readonly deps: Dlt645MetersDeps,
  ) {}

  start(): void {
    const { clock, emit, schedule } = this.deps;
    const profiles = this.deps.profiles;
    const log = this.deps.log.child({ part: 'dlt645' });
    for (const d of this.config.devices) {
      const key = dlt645BusKey(d.transport);
      let bus = this.buses.get(key);
      if (!bus) {
        const t = d.transport;
        const frameGapMs = t.kind === 'serial' ? (t.frameGapMs ?? defaultFrameGapMs(t.baudRate)) : t.frameGapMs;
        bus = new Dlt645Bus({ link: linkOf(t), log, preamble: t.preamble, frameGapMs });
        this.buses.set(key, bus);
      }
      const source = new Dlt645Source({ bus, address: d.address, profile: profiles.get(d.profile)!, timeoutMs: d.timeoutMs, log: log.child({ deviceId: d.id }), clock });
      this.pollers.push(new DevicePoller({ device: d, source, clock, log, emit, ...(schedule ? { schedule } : {}) }));
    }
    // spread the first polls over each device's interval so they do not all queue at once
    this.pollers.forEach((p, i) => p.start((i / this.pollers.length) * this.config.devices[i]!.intervalMs));
    const ts = this.config.timeSync;
    if (ts) {
      const sync = () => {
        // the meter's local time: the agent's clock shifted by the configured offset, read as UTC fields
        const t = new Date(clock() + ts.utcOffsetMin * 60_000);
        const frame = timeSyncRequest({ year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate(), hour: t.getUTCHours(), minute: t.getUTCMinutes(), second: t.getUTCSeconds() });
        for (const [key, bus] of this.buses)
          bus.broadcast(frame).then(
            () => log.info({ bus: key }, 'broadcast time sync sent'),
            (err: unknown) => log.warn({ bus: key, err }, 'broadcast time sync not sent'),
          );
      };
      sync();
      this.syncTimer = setInterval(sync, ts.intervalMs);
    }
  }

  async stop(): Promise<void> {
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
    await Promise.all(this.pollers.map((p) => p.stop()));
    await Promise.all([...this.buses.values()].map((b) => b.close()));
  }

  deviceStats(): Record<string, DeviceStats> {
    return Object.fromEntries(this.pollers.map((p) => [p.deviceId, p.stats()]));
  }

  addTotals(t: DeviceTotals): void {
    for (const p of this.pollers) p.addTotals(t);
  }

  busStats(): Record<string, Dlt645BusStats> {
    return Object.fromEntries([...this.buses].map(([k, b]) => [k, b.stats()]));
  }
}
