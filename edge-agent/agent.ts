/**
 * The edge agent: device pollers over shared Modbus connections, readings
 * numbered and handed to the MQTT uplink. `createAgent` does no I/O;
 * `start()` opens, `stop()` drains and closes everything it opened.
 */
import type { Logger } from 'pino';
import type { Reading } from '../contract/index.ts';
import type { AgentConfig, DeviceConfig } from './config.ts';
import { ConfigError, EdgeAgentError } from './errors.ts';
import { ModbusTcpConnection, type ModbusConnectionStats } from './modbus-client.ts';
import { planReads, type PlannedRead } from './plan.ts';
import { DevicePoller, type DeviceStats } from './poller.ts';
import { BUILTIN_PROFILES, type ProfileRegistry } from './profiles/index.ts';
import { ReadingsUplink, type UplinkStats } from './uplink.ts';

export interface AgentDeps {
  log: Logger;
  /** epoch ms; readings are stamped with it. Default Date.now */
  clock?: () => number;
  /** profiles the config's device profiles resolve against; default the built-ins */
  profiles?: ProfileRegistry;
  /**
   * First sequence number. Default: clock() × 1000 at start, so an agent that
   * restarts continues above every seq it sent before (the server's watermark
   * only moves up) as long as it averages under 1000 readings per ms. The
   * spool will persist the counter instead.
   */
  seqStart?: number;
}

export interface AgentStats {
  /** the next sequence number */
  seq: number;
  devices: Record<string, DeviceStats>;
  connections: Record<string, ModbusConnectionStats>;
  uplink: UplinkStats;
}

export interface Agent {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): AgentStats;
}

type AgentState = 'idle' | 'running' | 'stopping' | 'stopped';

function connectionKey(d: DeviceConfig): string {
  switch (d.transport.kind) {
    case 'tcp':
      return `tcp://${d.transport.host}:${d.transport.port}`;
    default: {
      const never: never = d.transport.kind;
      throw new Error(`unknown transport ${String(never)}`);
    }
  }
}

export function createAgent(config: AgentConfig, deps: AgentDeps): Agent {
  const clock = deps.clock ?? Date.now;
  const profiles = deps.profiles ?? BUILTIN_PROFILES;
  const log = deps.log;

  // resolve profiles and plan the reads now: a config that names a profile
  // this registry does not have fails here, before anything is opened
  const plans = new Map<string, readonly PlannedRead[]>();
  const missing: string[] = [];
  config.devices.forEach((d, i) => {
    const profile = profiles.get(d.profile);
    if (!profile) missing.push(`devices[${i}].profile: unknown profile "${d.profile}"`);
    else plans.set(d.id, planReads(profile.registers, { maxGap: profile.maxGap, maxRegisters: profile.maxRegistersPerRead }));
  });
  if (missing.length) throw new ConfigError('agent config', missing);

  let state: AgentState = 'idle';
  let seq = 0;
  let uplink: ReadingsUplink | null = null;
  const connections = new Map<string, ModbusTcpConnection>();
  const pollers: DevicePoller[] = [];

  function emit(r: Omit<Reading, 'seq'>): void {
    // numbered as produced: seq order is the order readings reach the uplink
    uplink?.push({ ...r, seq: seq++ });
  }

  return {
    async start() {
      if (state !== 'idle') throw new EdgeAgentError('GW_ERR_AGENT_STATE', `start() in state ${state}; an agent starts once`);
      state = 'running';
      seq = deps.seqStart ?? Math.floor(clock()) * 1000;
      uplink = new ReadingsUplink({
        agent: config.agent,
        site: config.site,
        mqtt: config.mqtt,
        publishIntervalMs: config.publishIntervalMs,
        log: log.child({ part: 'uplink' }),
      });
      uplink.start();
      for (const d of config.devices) {
        const key = connectionKey(d);
        let conn = connections.get(key);
        if (!conn) {
          conn = new ModbusTcpConnection({ host: d.transport.host, port: d.transport.port, log: log.child({ part: 'modbus' }) });
          connections.set(key, conn);
        }
        pollers.push(new DevicePoller({ device: d, reads: plans.get(d.id)!, reader: conn, clock, log, emit }));
      }
      // spread the first polls over each device's interval so they do not all fire at once
      pollers.forEach((p, i) => p.start((i / pollers.length) * config.devices[i]!.intervalMs));
      log.info({ agent: config.agent, site: config.site, devices: pollers.length, connections: connections.size }, 'edge agent started');
    },

    async stop() {
      if (state !== 'running') return;
      state = 'stopping';
      // polls in progress finish (bounded by their request timeout) and their readings still go out
      await Promise.all(pollers.map((p) => p.stop()));
      await Promise.all([uplink?.stop(), ...[...connections.values()].map((c) => c.close())]);
      state = 'stopped';
      log.info({ agent: config.agent, nextSeq: seq }, 'edge agent stopped');
    },

    stats() {
      const devices: Record<string, DeviceStats> = {};
      for (const p of pollers) devices[p.deviceId] = p.stats();
      const conns: Record<string, ModbusConnectionStats> = {};
      for (const [k, c] of connections) conns[k] = c.stats();
      const up = uplink?.stats() ?? { connected: false, pending: 0, inflight: 0, published: 0, messages: 0, dropped: 0 };
      return { seq, devices, connections: conns, uplink: up };
    },
  };
}
