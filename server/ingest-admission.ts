/**
 * Which readings the ingest admits, and from whom: the binding of readings to
 * the agent that sends them (topology: `room.agent`), bounds on everything a
 * sender can invent (device ids, agent ids, call sites), and the time window
 * a reading's stamp must fall into.
 *
 * - An agent named by a room (`room.agent`, or in `room.agents`) is bound: it
 *   publishes on its own site's topic only, and reports the devices of its
 *   rooms and its spool pseudo-device (`<agent>.spool`), nothing else; the
 *   devices of its rooms are taken from the agents they name only.
 * - A room without `agent` is open: any agent on its site may report its
 *   devices (topologies written before binding existed keep working).
 * - A device in no room is unknown: rejected (`ingest.unknownDevices:
 *   reject`, the default) or stored and shown live but never given to the
 *   rules (`accept`), at most `maxUnknownDevices` distinct ids.
 * - Without a topology (bare start) nothing can be bound: every device is
 *   taken, rules included, up to `maxUnknownDevices` distinct ids, from up to
 *   `maxUnknownAgents` agents.
 *
 * Everything here is bounded: a hostile publisher inventing ids fills a set
 * up to its limit and is then refused, counted.
 */
import { isSpoolDeviceId, isTopicId, type DevicePlace, type Topology } from '../contract/index.ts';

export type UnknownDevicePolicy = 'reject' | 'accept';

export interface AdmissionOptions {
  unknownDevices: UnknownDevicePolicy;
  maxUnknownDevices: number;
  maxUnknownAgents: number;
  /** readings stamped further ahead of the server clock are rejected (`future_ts`), ms */
  maxFutureMs: number;
  /** readings stamped further back are rejected (`too_old`), ms */
  maxPastMs: number;
}

/**
 * Why the ingest refused a message or a reading beyond the contract's own
 * reasons (contract/readings.ts RejectReason). A fixed set: these are metric
 * label values.
 */
export const ADMISSION_REASONS = [
  'unknown_site',
  'unknown_agent',
  'site_mismatch',
  'not_bound',
  'unknown_device',
  'too_many_devices',
  'too_many_agents',
  'too_many_sites',
  'future_ts',
  'too_old',
] as const;
export type AdmissionReason = (typeof ADMISSION_REASONS)[number];

/** How an admitted reading is handled: with the rules, or stored and live only. */
export type Admitted = 'rules' | 'store_only';

export class Admission {
  /** bare start: no topology to bind against */
  readonly bare: boolean;
  /** agent → the sites of its rooms */
  private readonly agentSites = new Map<string, Set<string>>();
  /** device → the agents of its room (`agent` and `agents`); empty for an open room */
  private readonly deviceAgents = new Map<string, readonly string[]>();
  private readonly sites = new Set<string>();
  /** sites with at least one room without an agent */
  private readonly openSites = new Set<string>();
  private readonly unknownDevices = new Set<string>();
  private readonly unknownAgents = new Set<string>();
  private readonly callSites = new Set<string>();

  constructor(
    private readonly opts: AdmissionOptions,
    topology: Topology,
    private readonly devices: ReadonlyMap<string, DevicePlace>,
  ) {
    this.bare = topology.sites.length === 0;
    for (const site of topology.sites) {
      this.sites.add(site.id);
      for (const room of site.rooms) {
        const agents = [...new Set([...(room.agent ? [room.agent] : []), ...room.agents])];
        for (const agent of agents) {
          let s = this.agentSites.get(agent);
          if (!s) this.agentSites.set(agent, (s = new Set()));
          s.add(site.id);
        }
        if (agents.length === 0) this.openSites.add(site.id);
        for (const t of room.transformers) {
          if (t.meter) this.deviceAgents.set(t.meter, agents);
          for (const l of t.lines) if (l.meter) this.deviceAgents.set(l.meter, agents);
        }
        for (const d of room.sensors) this.deviceAgents.set(d, agents);
      }
    }
  }

  /** Whether the topology names this agent (its id may then appear as a metric label). */
  isKnownAgent(agent: string): boolean {
    return this.agentSites.has(agent);
  }

  /** The agent label of a metric: the agent's id when the topology names it, else '' (label values stay a bounded set). */
  agentLabel(agent: string): string {
    return this.agentSites.has(agent) ? agent : '';
  }

  /** Distinct unknown device ids taken so far. */
  get unknownDeviceCount(): number {
    return this.unknownDevices.size;
  }

  /** Distinct agents outside the topology taken so far. */
  get unknownAgentCount(): number {
    return this.unknownAgents.size;
  }

  /**
   * A readings message from `agent` on `site`'s topic: null when it may be
   * looked at reading by reading, else why the whole message is refused.
   */
  message(site: string, agent: string): AdmissionReason | null {
    const sites = this.agentSites.get(agent);
    if (sites) return sites.has(site) ? null : 'site_mismatch';
    if (!this.bare) {
      if (!this.sites.has(site)) return 'unknown_site';
      // an agent the topology does not name can only report open rooms' devices or, when accepted, unknown ones
      if (!this.openSites.has(site) && this.opts.unknownDevices !== 'accept') return 'unknown_agent';
    }
    return this.admitAgent(agent) ? null : 'too_many_agents';
  }

  /** Agent presence on `gridwatch/v1/agent/<agent>/state`: kept for the topology's agents and a bounded number of others. */
  agentState(agent: string): AdmissionReason | null {
    if (!isTopicId(agent)) return 'unknown_agent';
    if (this.agentSites.has(agent)) return null;
    if (!this.bare && this.openSites.size === 0 && this.opts.unknownDevices !== 'accept') return 'unknown_agent';
    return this.admitAgent(agent) ? null : 'too_many_agents';
  }

  /** A one-key call from `site`: the topology's sites; without one, a bounded number of sites. */
  call(site: string): AdmissionReason | null {
    if (!this.bare) return this.sites.has(site) ? null : 'unknown_site';
    if (this.callSites.has(site)) return null;
    if (this.callSites.size >= this.opts.maxUnknownAgents) return 'too_many_sites';
    this.callSites.add(site);
    return null;
  }

  private admitAgent(agent: string): boolean {
    if (this.unknownAgents.has(agent)) return true;
    if (this.unknownAgents.size >= this.opts.maxUnknownAgents) return false;
    this.unknownAgents.add(agent);
    return true;
  }

  /** Whether a stamp is inside the window (a reason when not). */
  time(ts: number, now: number): AdmissionReason | null {
    if (ts > now + this.opts.maxFutureMs) return 'future_ts';
    if (ts < now - this.opts.maxPastMs) return 'too_old';
    return null;
  }

  /**
   * One reading's device, from `agent` on `site`'s topic (the message was
   * admitted): how it is taken, or why not. `spool` is the agent's spool
   * pseudo-device id (spoolDeviceId(agent), made once per message).
   */
  device(device: string, site: string, agent: string, spool: string): Admitted | AdmissionReason {
    const owners = this.deviceAgents.get(device);
    if (owners !== undefined) {
      // a bound room: the agents it names (on one of their sites' topics: message()); an open room: any agent of its site
      if (owners.length > 0) return owners.includes(agent) ? 'rules' : 'not_bound';
      return this.devices.get(device)?.site === site ? 'rules' : 'not_bound';
    }
    if (device === spool) return 'rules';
    // another agent's spool
    if (isSpoolDeviceId(device)) return 'not_bound';
    if (!this.bare && this.opts.unknownDevices === 'reject') return 'unknown_device';
    if (!this.unknownDevices.has(device)) {
      if (this.unknownDevices.size >= this.opts.maxUnknownDevices) return 'too_many_devices';
      this.unknownDevices.add(device);
    }
    // without a topology every device is an ordinary one (bounded); with one, an unknown device never reaches the rules
    return this.bare ? 'rules' : 'store_only';
  }
}
