/**
 * The server's own broker connection, for comm-loss.
 *
 * A meter is silent only if the server could have heard it: while the
 * server has no broker connection nothing arrives from anyone, and that is
 * ONE fault — the broker's, or the server's link to it — not a comm-loss per
 * meter. So:
 *  - connection lost: ONE alarm, `<stale rule>:mqtt-broker` (the first
 *    enabled stale rule, as for an agent), and comm-loss evaluation is
 *    suspended (`counting` false: no stale tick raises anything);
 *  - connected again: the broker alarm clears, and every meter's silence is
 *    counted afresh from the reconnection, so it has its rule's whole window
 *    to be heard from (the backlog the broker held arrives meanwhile);
 *  - at start nothing is counted before the first connection, and a broker
 *    alarm left active by an earlier run clears on it.
 * Pure state and plans; the alarm service applies them.
 */
import type { Alarm, AlarmOp, Rule, RuleState, StaleRule } from '../rules/index.ts';

/** The source of the broker alarm (alarm id `<stale rule>:mqtt-broker`). */
export const BROKER_SOURCE = 'mqtt-broker';

export class BrokerPresence {
  /** null until the first connection event */
  private connected: boolean | null = null;
  /** server time of the last change */
  private changedAt: number;

  constructor(now: number) {
    this.changedAt = now;
  }

  /** Whether comm-loss may count silence now: connected (since the last start or loss). */
  get counting(): boolean {
    return this.connected === true;
  }

  get state(): { connected: boolean | null; since: number } {
    return { connected: this.connected, since: this.changedAt };
  }

  /** Records a connection event; false when it changes nothing. */
  set(connected: boolean, now: number): boolean {
    if (this.connected === connected) return false;
    this.connected = connected;
    this.changedAt = now;
    return true;
  }
}

/** The first enabled stale rule: the one whose alarm reports the broker. */
export function brokerRule(rules: readonly Readonly<Rule>[]): StaleRule | undefined {
  return rules.find((r): r is StaleRule => r.kind === 'stale' && r.enabled);
}

/**
 * The operations for a connection change: lost → raise the broker alarm;
 * connected → clear every active broker alarm (of whichever stale rule
 * raised it).
 */
export function planBrokerOps(connected: boolean, rule: StaleRule | undefined, alarms: Iterable<Alarm>): AlarmOp[] {
  if (connected) {
    const ops: AlarmOp[] = [];
    for (const a of alarms) if (a.source === BROKER_SOURCE && a.active) ops.push({ op: 'clear', alarmId: a.alarmId });
    return ops;
  }
  if (!rule) return [];
  return [
    {
      op: 'raise',
      alarmId: `${rule.id}:${BROKER_SOURCE}`,
      severity: rule.severity,
      level: 'broker_lost',
      message: 'server lost its MQTT broker connection: no data from any agent; comm-loss of meters is not evaluated until it is back',
      detail: { scope: 'broker' },
    },
  ];
}

/**
 * After a (re)connection: the silence of every meter not already stale is
 * counted from `now`, in place (the time without a connection is not the
 * meters' silence).
 */
export function restartSilence(states: Iterable<Map<string, RuleState>>, now: number): void {
  for (const m of states)
    for (const st of m.values()) if (st.kind === 'stale' && !st.active && st.refAt < now) st.refAt = now;
}
