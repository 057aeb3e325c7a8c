/**
 * Outage correlation by topology (docs/alarms.md, Lifecycle: one outage, not fifty
 * undervoltage alarms) and suppression by design. Pure.
 *
 * The outage rule's per-device state (engine.ts) says whether a meter has
 * lost all phase voltages. `correlateOutages` reads those states with the
 * topology and says which outage alarms should be active now:
 *
 *  - every meter under a transformer (its own meter and its lines' meters)
 *    dark, none live → ONE alarm on the transformer (source `site/transformer`),
 *    listing the affected lines and meters; all those meters' other alarms
 *    are suppressed by design while it lasts;
 *  - a dark meter whose transformer is not out → an alarm on that meter
 *    (source = device id). A dark line meter beside live ones is that line's
 *    outage (its breaker or fuse); a dark transformer meter beside live lines
 *    is a fault of the meter's voltage circuit, and says so. Neither is an
 *    outage of the transformer.
 *  - a meter that stops answering is not dark: that is the stale rule's
 *    comm-loss alarm — unless the rule sets `commLossIsDark` for meters
 *    powered from the circuit they measure.
 *
 * Suppressed by design (ISA-18.2 "designed suppression"): every alarm of a
 * meter without supply — under a transformer outage, or dark on its own — but
 * the outage alarm that covers it, and for `releaseS` after the supply is
 * back, so voltage alarms still waiting for a 1-min mean and an off-delay
 * don't annunciate on restoration.
 *
 * `minDarkShare` < 1 lets a transformer outage fire with some meters of
 * unknown state (silent, never seen); a live meter always vetoes it.
 */
import type { DevicePlace, Topology } from '../../contract/index.ts';
import { alarmId, type Alarm, type AlarmOp } from './alarm.ts';
import { supplyOf, type RuleState } from './engine.ts';
import { ruleCovers, type OutageRule, type Severity } from './schema.ts';

export interface OutageCondition {
  /** alarmId(rule.id, source) */
  alarmId: string;
  /** `site/transformer` for a transformer outage, the device id for a single meter */
  source: string;
  scope: 'transformer' | 'meter';
  site: string;
  room: string;
  transformer: string;
  /** the affected outgoing lines (a transformer outage: all its lines) */
  lines: string[];
  /** the meters seen dark */
  meters: string[];
  /** meters under the transformer whose state is unknown (only with minDarkShare < 1) */
  unknownMeters: string[];
  severity: Severity;
  message: string;
}

/** Alarms of `source` are hidden by design while this lasts. */
export interface Suppression {
  source: string;
  reason: string;
  /** planned: inside a planned outage's scope and window (server/outages) */
  cause: 'outage' | 'agent_offline' | 'planned';
}

export interface OutageCorrelation {
  /** the outage alarms that should be active now, ordered by source */
  conditions: OutageCondition[];
  /** sources (meter ids) whose alarms are suppressed by a transformer outage */
  suppress: Suppression[];
}

/** Key of a transformer as an alarm source (transformer ids are unique within a site). */
export function transformerSource(site: string, transformer: string): string {
  return `${site}/${transformer}`;
}

/**
 * Which outage alarms should be active at `now`. `states` holds the outage
 * rule's state per device id (devices without state count as unknown).
 */
export function correlateOutages(states: ReadonlyMap<string, RuleState>, topology: Topology, rule: OutageRule, now: number): OutageCorrelation {
  const conditions: OutageCondition[] = [];
  const suppress: Suppression[] = [];
  const covered = new Set<string>();
  const releaseMs = rule.releaseS * 1000;
  const settling = (device: string, x: { status: string; restoredAt: number | null }) => {
    if (x.status !== 'dark' && x.restoredAt !== null && now - x.restoredAt < releaseMs)
      suppress.push({ source: device, reason: `supply back at ${new Date(x.restoredAt).toISOString()}, settling`, cause: 'outage' });
  };
  const meterCondition = (device: string, place: DevicePlace | undefined, message: string): OutageCondition => ({
    alarmId: alarmId(rule.id, device),
    source: device,
    scope: 'meter',
    site: place?.site ?? '',
    room: place?.room ?? '',
    transformer: place?.transformer ?? '',
    lines: place?.line ? [place.line] : [],
    meters: [device],
    unknownMeters: [],
    severity: rule.severity,
    message,
  });

  for (const site of topology.sites) {
    for (const room of site.rooms) {
      for (const t of room.transformers) {
        const meters: { device: string; place: DevicePlace }[] = [];
        if (t.meter) meters.push({ device: t.meter, place: { site: site.id, room: room.id, transformer: t.id, line: '', device: t.meter, role: 'transformer', ratedKva: t.ratedKva } });
        for (const l of t.lines)
          if (l.meter) meters.push({ device: l.meter, place: { site: site.id, room: room.id, transformer: t.id, line: l.id, device: l.meter, role: 'line' } });
        const inScope = meters.filter((m) => ruleCovers(rule, m.device, m.place));
        if (inScope.length === 0) continue;
        const supply = new Map(inScope.map((m) => [m.device, supplyOf(states.get(m.device), rule, now)]));
        const status = new Map([...supply].map(([d, x]) => [d, x.status]));
        for (const m of inScope) settling(m.device, supply.get(m.device)!);
        for (const m of inScope) covered.add(m.device);
        const dark = inScope.filter((m) => status.get(m.device) === 'dark');
        const live = inScope.filter((m) => status.get(m.device) === 'live');
        const unknown = inScope.filter((m) => status.get(m.device) === 'unknown');
        const needed = Math.max(1, Math.ceil(rule.minDarkShare * inScope.length - 1e-9));
        const source = transformerSource(site.id, t.id);
        if (live.length === 0 && dark.length >= needed) {
          const lines = t.lines.map((l) => l.id);
          conditions.push({
            alarmId: alarmId(rule.id, source),
            source,
            scope: 'transformer',
            site: site.id,
            room: room.id,
            transformer: t.id,
            lines,
            meters: dark.map((m) => m.device),
            unknownMeters: unknown.map((m) => m.device),
            severity: rule.severity,
            message:
              `outage of transformer ${t.name} (${source}) in ${room.name}: ` +
              `${lines.length} line(s) ${lines.join(', ')} without supply; meters dark: ${dark.map((m) => m.device).join(', ')}` +
              (unknown.length ? `; no data from ${unknown.map((m) => m.device).join(', ')}` : ''),
          });
          for (const m of inScope) suppress.push({ source: m.device, reason: `outage of transformer ${source}`, cause: 'outage' });
          continue;
        }
        for (const m of dark) {
          const lineName = t.lines.find((l) => l.id === m.place.line)?.name;
          suppress.push({ source: m.device, reason: `${m.device} without supply`, cause: 'outage' });
          conditions.push(
            meterCondition(
              m.device,
              m.place,
              m.place.role === 'line'
                ? `outage of line ${lineName ?? m.place.line} (${m.place.line}): meter ${m.device} lost all phase voltages while transformer ${source} has supply`
                : `transformer meter ${m.device} reads no voltage while lines of ${source} have supply: check the meter's voltage circuit`,
            ),
          );
        }
      }
    }
  }
  // devices outside the topology: each on its own
  for (const [device, state] of states) {
    if (covered.has(device) || !ruleCovers(rule, device, undefined)) continue;
    const x = supplyOf(state, rule, now);
    settling(device, x);
    if (x.status === 'dark') {
      conditions.push(meterCondition(device, undefined, `meter ${device} lost all phase voltages`));
      suppress.push({ source: device, reason: `${device} without supply`, cause: 'outage' });
    }
  }
  conditions.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  return { conditions, suppress };
}

/** An edge agent as the topology places it: the rooms it serves and their devices. */
export interface AgentPlace {
  agent: string;
  rooms: { site: string; room: string }[];
  devices: string[];
}

/** Every agent named by a room of the topology, in topology order. */
export function agentPlaces(topology: Topology): Map<string, AgentPlace> {
  const out = new Map<string, AgentPlace>();
  for (const site of topology.sites)
    for (const room of site.rooms) {
      if (!room.agent) continue;
      let p = out.get(room.agent);
      if (!p) out.set(room.agent, (p = { agent: room.agent, rooms: [], devices: [] }));
      p.rooms.push({ site: site.id, room: room.id });
      p.devices.push(
        ...[...room.transformers.flatMap((t) => [t.meter, ...t.lines.map((l) => l.meter)]), ...room.sensors].filter((d): d is string => d !== undefined),
      );
    }
  return out;
}

/**
 * Every device of a room whose edge agent is offline, and every device in
 * `settlingDevices` (its agent is back online, but the device has not
 * reported since and its stale rule still gives it time to): their alarms,
 * their own comm-loss alarms included, are consequences of the lost contact,
 * which ONE alarm on the agent reports (`planAgentOps`).
 */
export function agentSuppressions(topology: Topology, offlineAgents: Iterable<string>, settlingDevices: Iterable<string> = []): Suppression[] {
  const off = new Set(offlineAgents);
  const settling = new Set(settlingDevices);
  const out: Suppression[] = [];
  for (const site of topology.sites)
    for (const room of site.rooms) {
      if (!room.agent) continue;
      const offline = off.has(room.agent);
      if (!offline && settling.size === 0) continue;
      const reason = offline
        ? `agent ${room.agent} of room ${site.id}/${room.id} offline`
        : `agent ${room.agent} of room ${site.id}/${room.id} back online, the device not yet heard from`;
      const devices = [
        ...room.transformers.flatMap((t) => [t.meter, ...t.lines.map((l) => l.meter)]),
        ...room.sensors,
      ].filter((d): d is string => d !== undefined);
      for (const d of devices) if (offline || settling.has(d)) out.push({ source: d, reason, cause: 'agent_offline' });
    }
  return out;
}

/**
 * The comm-loss alarm of a lost agent: ONE alarm per (stale rule, agent),
 * source = the agent id (alarm id `ruleId:agent`), listing its rooms and
 * devices, raised while the agent's presence is `offline` and cleared once
 * it is `online` again. An agent whose presence is not known (`online` does
 * not list it, e.g. just after a server start, before the retained presence
 * message arrived) keeps its alarm as it is. `rules` are the enabled stale
 * rules whose scope covers at least one of the agent's devices (the caller
 * knows the device places); the first is the agent's rule.
 */
export function planAgentOps(
  alarms: ReadonlyMap<string, Alarm>,
  places: ReadonlyMap<string, AgentPlace>,
  offline: { has(agent: string): boolean },
  online: { has(agent: string): boolean },
  rulesOf: (place: AgentPlace) => readonly { id: string; severity: Severity }[],
): AlarmOp[] {
  const ops: AlarmOp[] = [];
  for (const place of places.values()) {
    const rules = rulesOf(place);
    for (const [i, rule] of rules.entries()) {
      const id = alarmId(rule.id, place.agent);
      const a = alarms.get(id);
      if (offline.has(place.agent) && i === 0) {
        const rooms = place.rooms.map((r) => `${r.site}/${r.room}`);
        ops.push({
          op: 'raise',
          alarmId: id,
          severity: rule.severity,
          level: 'agent_offline',
          message: `edge agent ${place.agent} offline: no data from room ${rooms.join(', ')} (${place.devices.length} device(s): ${place.devices.join(', ')})`,
          detail: { scope: 'agent', agent: place.agent, rooms: place.rooms.map((r) => ({ ...r })), devices: [...place.devices] },
        });
      } else if (a?.active && (online.has(place.agent) || i > 0)) ops.push({ op: 'clear', alarmId: id });
    }
  }
  return ops;
}

/**
 * Suppress / unsuppress operations that make the alarm set match `desired`
 * (all design suppressions from every cause). `exempt` keeps an alarm out of
 * it (e.g. the one-key call, or the comm-loss alarm under `agent_offline`).
 * Apply `suppress` before raising or clearing anything in the same round, so
 * a consequence alarm never annunciates; `unsuppress` after.
 */
export function planSuppressionOps(
  alarms: Iterable<Alarm>,
  desired: readonly Suppression[],
  exempt: (a: Alarm, s: Suppression) => boolean = () => false,
): { suppress: AlarmOp[]; unsuppress: AlarmOp[] } {
  const bySource = new Map<string, Suppression[]>();
  for (const s of desired) bySource.set(s.source, [...(bySource.get(s.source) ?? []), s]);
  const suppress: AlarmOp[] = [];
  const unsuppress: AlarmOp[] = [];
  for (const a of alarms) {
    const s = (bySource.get(a.source) ?? []).find((x) => !exempt(a, x));
    if (s !== undefined && a.suppression === null) suppress.push({ op: 'suppress', alarmId: a.alarmId, reason: s.reason });
    else if (s === undefined && a.suppression !== null) unsuppress.push({ op: 'unsuppress', alarmId: a.alarmId });
  }
  return { suppress, unsuppress };
}

/**
 * The operations that bring the outage rule's alarms and the design
 * suppressions in line with a correlation, in a safe order: suppress, raise,
 * clear, unsuppress. `alarms` is the current set; `moreSuppressions` are
 * other causes (agents offline) so they are not lifted here.
 */
export function planOutageOps(
  alarms: ReadonlyMap<string, Alarm>,
  ruleId: string,
  correlation: OutageCorrelation,
  opts: { moreSuppressions?: readonly Suppression[]; exempt?: (a: Alarm, s: Suppression) => boolean } = {},
): AlarmOp[] {
  const desired = [...correlation.suppress, ...(opts.moreSuppressions ?? [])];
  const wanted = new Set(correlation.conditions.map((c) => c.alarmId));
  // the outage alarm that covers a source is never hidden by its own suppression
  const exempt = (a: Alarm, s: Suppression) => (s.cause === 'outage' && wanted.has(a.alarmId)) || (opts.exempt?.(a, s) ?? false);
  const sup = planSuppressionOps(alarms.values(), desired, exempt);
  // a raise into a source suppressed by another cause (its agent offline) lands hidden
  const suppressedSources = new Map((opts.moreSuppressions ?? []).map((s) => [s.source, s.reason]));
  const raises: AlarmOp[] = correlation.conditions.map((c) => {
    const op: AlarmOp = {
      op: 'raise',
      alarmId: c.alarmId,
      severity: c.severity,
      level: 'dark',
      message: c.message,
      detail: { scope: c.scope, site: c.site, room: c.room, transformer: c.transformer, lines: c.lines, meters: c.meters, unknownMeters: c.unknownMeters },
    };
    const why = suppressedSources.get(c.source);
    if (why !== undefined) op.suppress = why;
    return op;
  });
  const clears: AlarmOp[] = [];
  for (const a of alarms.values()) if (a.ruleId === ruleId && a.active && !wanted.has(a.alarmId)) clears.push({ op: 'clear', alarmId: a.alarmId });
  return [...sup.suppress, ...raises, ...clears, ...sup.unsuppress];
}
