/**
 * The edge agent: device pollers over shared Modbus connections; every
 * reading is appended to the spool (which numbers it) before the MQTT uplink
 * sends it from there. `createAgent` does no I/O; `start()` opens, `stop()`
 * drains and closes everything it opened.
 */
import type { Logger } from './log.ts';
import { spoolDeviceId } from '../contract/readings.ts';
import type { AgentConfig, DeviceConfig } from './config.ts';
import { ConfigError, EdgeAgentError } from './errors.ts';
import { ModbusRtuConnection, type ModbusConnectionStats, type ModbusReader } from './modbus-client.ts';
import { ModbusTcpConnection } from './modbus-tcp.ts';
import { planReads, type PlannedRead } from './plan.ts';
import { READ_FUNCTION_CODES } from './decode.ts';
import { DevicePoller, emptyTotals, type DeviceStats, type DeviceTotals } from './poller.ts';
import { PollSchedule } from './schedule.ts';
import type { ProfileRegistry } from './profiles/index.ts';
import { DiskSpool, MemorySpool, type Spool, type SpoolStats, type UnsequencedReading } from './spool/index.ts';
import { ReadingsUplink, type UplinkStats } from './uplink.ts';
import { RoomMqttSource, type RoomDeviceStats } from './room-mqtt.ts';
import type { Dlt645BusStats } from './dlt645/bus.ts';
import { Dlt645Meters, missingDlt645Profiles } from './dlt645/meters.ts';
import type { Dlt645ProfileRegistry } from './dlt645/reads.ts';

export interface AgentDeps {
  log: Logger;
  /** epoch ms; readings are stamped with it. Default Date.now */
  clock?: () => number;
  /**
   * profiles the config's device profiles resolve against, validated when loaded (the
   * built-ins and profile files: config-files.ts; createAgent in create-agent.ts defaults
   * to the built-ins). The running agent does not load the schemas that validate them
   */
  profiles: ProfileRegistry;
  /** DL/T 645 profiles the config's `dlt645` devices resolve against, the section's own `profiles` included */
  dlt645Profiles: Dlt645ProfileRegistry;
  /**
   * First sequence number of a spool that has never held anything. Default:
   * clock() × 1000 at start, so an agent whose spool was lost (a new disk, or
   * a memory spool) still continues above every seq it sent before (the
   * server's watermark only moves up), as long as it averaged under 1000
   * readings per ms. A disk spool otherwise continues its own counter.
   */
  seqStart?: number;
  /** the spool; default: a DiskSpool when the config has `spool`, else a MemorySpool */
  spool?: Spool;
}

export interface AgentStats {
  /** the next sequence number */
  seq: number;
  devices: Record<string, DeviceStats>;
  connections: Record<string, ModbusConnectionStats>;
  /** room equipment over MQTT, by device id */
  room: Record<string, RoomDeviceStats>;
  /** DL/T 645 buses, by `dlt645+tcp://host:port` / `dlt645+serial://path` */
  dlt645: Record<string, Dlt645BusStats>;
  uplink: UplinkStats;
  spool: SpoolStats;
}

/** The counters of AgentStats summed over devices: cheap enough to ask for often. */
export interface AgentTotals extends DeviceTotals {
  /** readings appended to the spool by this process */
  appended: number;
  /** readings the broker acknowledged */
  published: number;
  /** readings in the spool not sent yet */
  unsent: number;
  /** readings held that the server has not confirmed */
  unacked: number;
  /** MQTT connections made */
  connects: number;
}

export interface Agent {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): AgentStats;
  totals(): AgentTotals;
  /** what the start-up line watches, without walking the devices */
  progress(): Pick<AgentTotals, 'appended' | 'published' | 'connects'>;
}

type AgentState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * The spool reports its loss count at least this often, ms: the server's
 * `spool-loss` rule compares a rise with the live reports before it (within
 * its hold time of a week), so an agent that runs for weeks without a
 * reconnection still has a recent one.
 */
const SPOOL_REPORT_INTERVAL_MS = 3_600_000;

function connectionKey(d: DeviceConfig): string {
  const t = d.transport;
  switch (t.kind) {
    case 'tcp':
      return `tcp://${t.host}:${t.port}`;
    case 'rtu':
      return `rtu://${t.path}`;
    default: {
      const never: never = t;
      throw new Error(`unknown transport ${String((never as { kind: unknown }).kind)}`);
    }
  }
}

type Connection = ModbusReader & { close(): Promise<void>; stats(): ModbusConnectionStats };

function openConnection(d: DeviceConfig, log: Logger): Connection {
  const t = d.transport;
  const l = log.child({ part: 'modbus' });
  switch (t.kind) {
    case 'tcp':
      return new ModbusTcpConnection({ host: t.host, port: t.port, frameGapMs: t.frameGapMs, log: l });
    case 'rtu':
      return new ModbusRtuConnection({
        path: t.path,
        baudRate: t.baudRate,
        dataBits: t.dataBits,
        parity: t.parity,
        stopBits: t.stopBits,
        // 3.5 character times of 11 bits (Modbus over Serial Line §2.5.1.1)
        frameGapMs: t.frameGapMs ?? Math.max(2, Math.ceil((3.5 * 11 * 1000) / t.baudRate)),
        log: l,
      });
    default: {
      const never: never = t;
      throw new Error(`unknown transport ${String((never as { kind: unknown }).kind)}`);
    }
  }
}

export function createAgent(config: AgentConfig, deps: AgentDeps): Agent {
  const clock = deps.clock ?? Date.now;
  const profiles = deps.profiles;
  const log = deps.log;

  // resolve profiles and plan the reads now: a config that names a profile
  // this registry does not have fails here, before anything is opened
  const plans = new Map<string, readonly PlannedRead[]>();
  // a plan depends on the profile only: devices of one profile share it (a thousand meters, a handful of plans)
  const planOfProfile = new Map<unknown, readonly PlannedRead[]>();
  const missing: string[] = [];
  config.devices.forEach((d, i) => {
    const profile = profiles.get(d.profile);
    if (!profile) missing.push(`devices[${i}].profile: unknown profile "${d.profile}"`);
    else {
      // profiles are validated when loaded; a registry built some other way is checked again here: only reads are ever sent
      const bad = profile.registers.filter((r) => !(READ_FUNCTION_CODES as readonly number[]).includes(r.fc));
      for (const r of bad) missing.push(`devices[${i}].profile: "${d.profile}" reads ${r.quantity} with function code ${String(r.fc)}; only 1–4 are ever sent`);
      if (!bad.length) {
        let plan = planOfProfile.get(profile);
        if (!plan) planOfProfile.set(profile, (plan = planReads(profile.registers, { maxGap: profile.maxGap, maxRegisters: profile.maxRegistersPerRead })));
        plans.set(d.id, plan);
      }
    }
  });
  const dlt645Profiles = deps.dlt645Profiles;
  missing.push(...missingDlt645Profiles(config.dlt645, dlt645Profiles));
  if (missing.length) throw new ConfigError('agent config', missing);

  let state: AgentState = 'idle';
  let uplink: ReadingsUplink | null = null;
  let spool: Spool | null = null;
  let room: RoomMqttSource | null = null;
  let meters645: Dlt645Meters | null = null;
  const connections = new Map<string, Connection>();
  const pollers: DevicePoller[] = [];
  const schedule = new PollSchedule();
  const spoolDevice = spoolDeviceId(config.agent);
  let spoolTs = 0;
  let spoolTimer: NodeJS.Timeout | null = null;

  function emit(r: UnsequencedReading): void {
    if (!spool) return;
    // numbered by the spool as appended: seq order is the order readings are read and sent
    spool.append(r);
    // a report can itself push the oldest segment out: report until nothing more was lost
    for (let losses = spool.takeLosses(); losses.length > 0; losses = spool.takeLosses()) {
      for (const loss of losses) log.error({ deviceId: spoolDevice, ...loss, lostTotal: spool.stats().lost }, 'readings lost to the spool quota; reported as lost_readings of the spool');
      spool.append(spoolReport());
    }
    uplink?.notify();
  }

  /**
   * The quota pushed readings out before the server had them: the center
   * must see that, so the spool reports itself as the pseudo-device
   * `<agent>.spool` with `lost_readings`, the exact count lost since the spool
   * was created (persisted with it). It goes through the spool like any
   * reading, so the report is itself durable. Sent at start, whenever the
   * count changes, hourly, and once per connection when the server has the
   * backlog (`onCaughtUp`): a loss happens while the link is down, so its own
   * report arrives as backfill (never alarmed on); the one after catching up
   * is live, and the server's `spool-loss` rule sees the rise.
   */
  function spoolReport(): UnsequencedReading {
    // one point per report: the store keys points by (device, ts)
    spoolTs = Math.max(Math.floor(clock()), spoolTs + 1);
    return { device: spoolDevice, ts: spoolTs, v: { lost_readings: spool?.stats().lost ?? 0 }, q: 'good' };
  }

  /** the readings' way through the spool and the uplink: each one's stats read once */
  function flow(): Omit<AgentTotals, keyof DeviceTotals> {
    const up = uplink?.stats();
    const sp = spool?.stats();
    return { appended: sp?.appended ?? 0, published: up?.published ?? 0, unsent: up?.pending ?? 0, unacked: sp?.unacked ?? 0, connects: up?.connects ?? 0 };
  }

  return {
    async start() {
      if (state !== 'idle') throw new EdgeAgentError('GW_ERR_AGENT_STATE', `start() in state ${state}; an agent starts once`);
      state = 'running';
      const initialSeq = deps.seqStart ?? Math.floor(clock()) * 1000;
      spool =
        deps.spool ??
        (config.spool
          ? new DiskSpool({ ...config.spool, initialSeq, log: log.child({ part: 'spool' }) })
          : new MemorySpool({ initialSeq }));
      try {
        spool.open();
      } catch (err) {
        state = 'stopped';
        throw err;
      }
      if (!config.spool && !deps.spool) log.warn('no spool directory configured: readings not yet stored are lost if the agent stops');
      uplink = new ReadingsUplink({
        agent: config.agent,
        site: config.site,
        mqtt: config.mqtt,
        publishIntervalMs: config.publishIntervalMs,
        lateAfterMs: config.lateAfterMs,
        spool,
        clock,
        log: log.child({ part: 'uplink' }),
        watermarkStallMs: config.watermarkStallMs,
        watermarkStallMaxMs: config.watermarkStallMs * 10,
        onCaughtUp: () => emit(spoolReport()),
      });
      emit(spoolReport());
      uplink.start();
      spoolTimer = setInterval(() => emit(spoolReport()), SPOOL_REPORT_INTERVAL_MS);
      if (config.room) {
        const m = config.room.mqtt ?? config.mqtt;
        room = new RoomMqttSource({
          devices: config.room.devices,
          mqtt: {
            url: m.url,
            clientId: config.room.mqtt?.clientId ?? `gridwatch-agent-${config.agent}-room`,
            ...(m.username !== undefined ? { username: m.username } : {}),
            ...(m.password !== undefined ? { password: m.password } : {}),
          },
          clock,
          log: log.child({ part: 'room' }),
          emit,
        });
        room.start();
      }
      for (const d of config.devices) {
        const key = connectionKey(d);
        let conn = connections.get(key);
        if (!conn) {
          conn = openConnection(d, log);
          connections.set(key, conn);
        }
        pollers.push(new DevicePoller({ device: d, reads: plans.get(d.id)!, reader: conn, clock, log, emit, schedule }));
      }
      // spread the first polls over each device's interval so they do not all fire at once
      pollers.forEach((p, i) => p.start((i / pollers.length) * config.devices[i]!.intervalMs));
      if (config.dlt645) {
        meters645 = new Dlt645Meters(config.dlt645, { profiles: dlt645Profiles, clock, log, emit, schedule });
        meters645.start();
      }
      log.info({ agent: config.agent, site: config.site, devices: pollers.length + (config.dlt645?.devices.length ?? 0), connections: connections.size }, 'edge agent started');
    },

    async stop() {
      if (state !== 'running') return;
      state = 'stopping';
      if (spoolTimer) clearInterval(spoolTimer);
      spoolTimer = null;
      // polls in progress finish (bounded by their request timeout) and their readings still go out
      await Promise.all([...pollers.map((p) => p.stop()), room?.stop(), meters645?.stop()]);
      await Promise.all([uplink?.stop(), ...[...connections.values()].map((c) => c.close())]);
      spool?.close();
      state = 'stopped';
      log.info({ agent: config.agent, nextSeq: spool?.nextSeq }, 'edge agent stopped');
    },

    stats() {
      const devices: Record<string, DeviceStats> = {};
      for (const p of pollers) devices[p.deviceId] = p.stats();
      Object.assign(devices, meters645?.deviceStats());
      const conns: Record<string, ModbusConnectionStats> = {};
      for (const [k, c] of connections) conns[k] = c.stats();
      const up: UplinkStats = uplink?.stats() ?? {
        connected: false, pending: 0, inflight: 0, published: 0, messages: 0, late: 0, resent: 0, rewinds: 0, stalls: 0, skipped: 0, watermark: -1, connects: 0, connectFailures: 0, reconnectDelayMs: 0,
      };
      const sp: SpoolStats = spool?.stats() ?? {
        firstSeq: 0, nextSeq: 0, acked: -1, unacked: 0, bytes: 0, maxBytes: 0, segments: 0, appended: 0, lost: 0, corrupt: 0, ioErrors: 0, fsyncs: 0,
      };
      return { seq: sp.nextSeq, devices, connections: conns, room: room?.stats() ?? {}, dlt645: meters645?.busStats() ?? {}, uplink: up, spool: sp };
    },

    progress: flow,

    totals() {
      const t = emptyTotals();
      for (const p of pollers) p.addTotals(t);
      meters645?.addTotals(t);
      return { ...t, ...flow() };
    },
  };
}
