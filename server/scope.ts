/**
 * Station scopes: which supply stations (topology sites) a user may see.
 * A user with `sites` sees only those; one without sees all. What lies
 * outside a user's stations is filtered out of lists and answered 404 when
 * asked for by id, exactly as if it did not exist.
 */
import type { Topology } from '../contract/index.ts';
import type { Session } from './auth.ts';
import type { AlarmPlace, AlarmScope } from './live-hub.ts';

/** The sites a session may see; null → every site. */
export function sitesOf(session: Session | null | undefined): ReadonlySet<string> | null {
  const s = session?.sites;
  return s ? new Set(s) : null;
}

/** Whether `site` is visible under `allowed` (null: all). An unknown site ('') is visible only to unscoped users. */
export function siteVisible(allowed: ReadonlySet<string> | null, site: string | undefined): boolean {
  return allowed === null || (site !== undefined && site !== '' && allowed.has(site));
}

/**
 * Where devices and agents sit, from the topology. A reload updates the
 * topology object in place with new arrays (server/topology-file.ts
 * applyLayout): the index is derived again on the first question after it.
 */
export class StationIndex {
  private ids = new Set<string>();
  private deviceSite = new Map<string, string>();
  /** an agent's sites: its rooms' (`agent`, `agents`), which may lie in several */
  private agentSites = new Map<string, string[]>();
  private lines = new Map<string, Array<{ site: string; meter: string }>>();
  private transformerIndex = new Map<string, Array<{ site: string; meter: string }>>();
  /** the `sites` array the index was derived from */
  private indexed: Topology['sites'] | null = null;

  constructor(readonly topology: Topology) {
    this.fresh();
  }

  get siteIds(): ReadonlySet<string> {
    return this.fresh().ids;
  }

  /** line id / transformer id → the meters measuring it, with their sites (ids are unique per site) */
  get lineMeters(): ReadonlyMap<string, Array<{ site: string; meter: string }>> {
    return this.fresh().lines;
  }

  get transformerMeters(): ReadonlyMap<string, Array<{ site: string; meter: string }>> {
    return this.fresh().transformerIndex;
  }

  private fresh(): this {
    const topology = this.topology;
    if (this.indexed === topology.sites) return this;
    this.indexed = topology.sites;
    this.ids = new Set(topology.sites.map((s) => s.id));
    this.deviceSite = new Map();
    this.agentSites = new Map();
    this.lines = new Map();
    this.transformerIndex = new Map();
    const add = (map: Map<string, Array<{ site: string; meter: string }>>, id: string, site: string, meter: string) =>
      map.set(id, [...(map.get(id) ?? []), { site, meter }]);
    for (const site of topology.sites)
      for (const room of site.rooms) {
        for (const a of [...(room.agent ? [room.agent] : []), ...(room.agents ?? [])]) {
          const list = this.agentSites.get(a) ?? [];
          if (!list.includes(site.id)) this.agentSites.set(a, [...list, site.id]);
        }
        for (const d of room.sensors) this.deviceSite.set(d, site.id);
        for (const t of room.transformers) {
          if (t.meter) {
            this.deviceSite.set(t.meter, site.id);
            add(this.transformerIndex, t.id, site.id, t.meter);
          }
          for (const l of t.lines)
            if (l.meter) {
              this.deviceSite.set(l.meter, site.id);
              add(this.lines, l.id, site.id, l.meter);
            }
        }
      }
    return this;
  }

  siteOfDevice(device: string): string | undefined {
    return this.fresh().deviceSite.get(device);
  }

  /** Whether an agent reports for a site in `allowed` (null: all); an agent the topology does not name is visible to unscoped users only. */
  agentVisible(allowed: ReadonlySet<string> | null, agent: string): boolean {
    return allowed === null || (this.fresh().agentSites.get(agent) ?? []).some((s) => allowed.has(s));
  }

  /** The site of an alarm source: a meter or sensor, an agent, a `site/transformer`, a site (calls). */
  siteOfSource(source: string): string | undefined {
    const sites = this.fresh().agentSites.get(source);
    // an agent of several sites: its alarms belong to its first
    const site = this.deviceSite.get(source) ?? sites?.[0];
    if (site !== undefined) return site;
    const head = source.split('/')[0]!;
    return this.ids.has(head) ? head : undefined;
  }

  /** The topology with only the allowed sites. */
  /**
   * The grid a session may see, without the customer list: customers (with
   * their phones) are served per outage and plan to whom may see them, and a
   * county's 10⁵ of them are no part of every dashboard load.
   */
  topologyFor(allowed: ReadonlySet<string> | null): Topology {
    const { customers: _customers, ...grid } = this.topology;
    return allowed === null ? grid : { ...grid, sites: grid.sites.filter((s) => allowed.has(s.id)) };
  }

  /** Site ids of `ids` that the topology does not have. */
  unknownSites(ids: readonly string[]): string[] {
    const known = this.siteIds;
    return ids.filter((id) => !known.has(id));
  }
}

// ---------------------------------------------------------------- WebSocket (server/live-hub.ts)

/** Whether an alarm at `place` is within `scope`. */
export function alarmScopeCovers(scope: AlarmScope, place: AlarmPlace): boolean {
  if (scope === null) return true;
  if (scope.only && !scope.only.includes(place.site)) return false;
  if (scope.sites.length === 0 && scope.rooms.length === 0) return true;
  return scope.sites.includes(place.site) || scope.rooms.includes(place.room);
}

/**
 * The scope handed to message handlers (the alarm set on request), which
 * know sites-or-rooms only: the user's stations folded into the sites. With
 * rooms subscribed that is not exact (a room id may recur in another site);
 * `narrowAlarmSet` then removes what lies outside the stations.
 */
export function handlerScope(scope: AlarmScope): AlarmScope {
  if (!scope?.only) return scope;
  const only = scope.only;
  const sites = scope.sites.length ? scope.sites.filter((s) => only.includes(s)) : scope.rooms.length ? [] : [...only];
  return { sites, rooms: scope.rooms, only };
}

/**
 * An alarm set frame (`{ type: 'alarms', alarms, missed }`) without what
 * lies outside `only`; other frames as they are. Journal entries carry no
 * site: unless the handler's scope was exact, `missed` becomes null (as when
 * the entries are no longer in memory) and the client relies on the set.
 */
export function narrowAlarmSet(frame: object, only: readonly string[], exact: boolean): object {
  const f = frame as { type?: unknown; alarms?: unknown; missed?: unknown };
  if (f.type !== 'alarms' || !Array.isArray(f.alarms)) return frame;
  const alarms = (f.alarms as Array<{ site?: string }>).filter((a) => a.site !== undefined && only.includes(a.site));
  const missed = exact || (Array.isArray(f.missed) && f.missed.every((e: { kind?: string }) => e.kind === 'rules')) ? f.missed : null;
  return { ...f, alarms, missed };
}
