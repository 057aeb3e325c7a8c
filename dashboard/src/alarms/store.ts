/**
 * The alarm set as the browser holds it, fed by the server's WebSocket frames
 * (server/alarms/routes.ts, server/live-hub.ts):
 *   - `{ type: 'alarms', seq, alarms, missed }` answers our `{ type: 'alarms', since }`
 *     (sent on every (re)connect): the whole current set → resync;
 *   - `{ type: 'alarm', seq, transition, alarm }` pushed, never conflated: applied
 *     in seq order; a gap (seq > last + 1) asks for the set again.
 * A one-key call is an alarm of rule `call` whose source is the site.
 * Also the REST calls of the alarm API and the title-bar count.
 */
import type { AlarmAnswer, AlarmHistoryAnswer, AlarmListAnswer, AlarmState, AlarmView, AlarmsSnapshotFrame, ClientFrame, PushedAlarmFrame } from '../../../contract/frames.ts';
import { api } from '../api.ts';

export type { AlarmState, AlarmView, JournalEntry } from '../../../contract/frames.ts';

export const ACTIVE_STATES: ReadonlySet<AlarmState> = new Set(['unack_active', 'ack_active', 'unack_rtn']);
export const unacked = (a: AlarmView) => a.state === 'unack_active' || a.state === 'unack_rtn';
export const isCall = (a: AlarmView): boolean => a.ruleId === 'call';


/** active first, then most severe, then newest */
export function sortAlarms(list: AlarmView[]): AlarmView[] {
  const rank = (a: AlarmView) => (ACTIVE_STATES.has(a.state) ? 0 : 1);
  return list.sort((a, b) => rank(a) - rank(b) || a.severity - b.severity || b.since - a.since);
}

// ---------------------------------------------------------------- the store

type Sender = (frame: ClientFrame) => void;

/**
 * Whether frames were missed before this one. The server stamps each copy
 * with `prevSeq`, the seq of the alarm frame this connection got before
 * (server/live-hub.ts pushAlarm): a client narrowed to some sites sees seq
 * jump over other sites' frames without having missed any. Without
 * `prevSeq` (an older server) every seq is sent, so a jump is a gap.
 */
function missedBefore(f: PushedAlarmFrame, applied: number): boolean {
  const prev = typeof f.prevSeq === 'number' ? f.prevSeq : f.seq - 1;
  return prev > applied;
}

export class AlarmStore {
  readonly alarms = new Map<string, AlarmView>();
  seq = 0;
  /** a full set has arrived since the last (re)connect */
  synced = false;
  private send: Sender | null = null;
  private readonly listeners = new Set<() => void>();
  /** unacknowledged high-severity alarms already announced (alarmId@since) */
  private readonly announced = new Set<string>();
  private audio: AudioContext | null = null;
  beeps = 0;

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called on each WebSocket open: ask for the current set (and what was missed). */
  connected(send: Sender): void {
    this.send = send;
    this.synced = false;
    send({ type: 'alarms', ...(this.seq ? { since: this.seq } : {}) });
  }

  /** Handles an alarm frame; false for frames that are not about alarms. */
  frame(frame: { type: string }): boolean {
    const f = frame as PushedAlarmFrame | AlarmsSnapshotFrame;
    if (f.type === 'alarms') {
      this.alarms.clear();
      for (const a of f.alarms) this.alarms.set(a.alarmId, a);
      this.seq = f.seq;
      this.synced = true;
      this.changed(false);
      return true;
    }
    if (f.type === 'alarm') {
      const seq = f.seq;
      if (!this.synced || seq <= this.seq) return true; // the pending set already holds it
      if (missedBefore(f, this.seq)) {
        // a gap: take the whole set again rather than show a wrong one
        this.synced = false;
        this.send?.({ type: 'alarms', since: this.seq });
        return true;
      }
      this.seq = seq;
      const a = f.alarm;
      if (a.state === 'normal') this.alarms.delete(a.alarmId);
      else this.alarms.set(a.alarmId, a);
      this.changed(true);
      return true;
    }
    if (f.type === 'alarm_escalation' || f.type === 'alarm_rules') {
      const seq = f.seq;
      if (!this.synced || seq <= this.seq) return true;
      if (!missedBefore(f, this.seq)) this.seq = seq;
      else {
        this.synced = false;
        this.send?.({ type: 'alarms', since: this.seq });
      }
      return true;
    }
    return false;
  }

  list(): AlarmView[] {
    return sortAlarms([...this.alarms.values()]);
  }

  /** counts of the standing alarms by severity (1..4), shelved etc. not included */
  counts(pred: (a: AlarmView) => boolean = () => true): number[] {
    const c = [0, 0, 0, 0, 0];
    for (const a of this.alarms.values()) if (ACTIVE_STATES.has(a.state) && pred(a)) c[a.severity]!++;
    return c;
  }

  unackedHigh(): number {
    let n = 0;
    for (const a of this.alarms.values()) if (unacked(a) && a.severity <= 2) n++;
    return n;
  }

  /** an alarm as an action's answer shows it */
  put(a: AlarmView): void {
    if (a.state === 'normal') this.alarms.delete(a.alarmId);
    else this.alarms.set(a.alarmId, a);
    this.changed(false);
  }

  reset(): void {
    this.alarms.clear();
    this.seq = 0;
    this.synced = false;
    this.announced.clear();
    this.changed(false);
  }

  private changed(live: boolean): void {
    let fresh = false;
    for (const a of this.alarms.values()) {
      if (!(unacked(a) && a.severity <= 2)) continue;
      const key = `${a.alarmId}@${a.since}`;
      if (!this.announced.has(key)) {
        this.announced.add(key);
        if (live) fresh = true;
      }
    }
    if (fresh) this.beep();
    for (const fn of this.listeners) fn();
  }

  /** An audible cue: two short tones through Web Audio (no audio files). */
  beep(): void {
    this.beeps++;
    document.body.dataset.beeps = String(this.beeps);
    try {
      this.audio ??= new AudioContext();
      const ctx = this.audio;
      if (ctx.state === 'suspended') void ctx.resume().catch(() => undefined);
      for (const [i, hz] of [880, 660].entries()) {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = hz;
        o.type = 'square';
        const t0 = ctx.currentTime + i * 0.22;
        g.gain.setValueAtTime(0.0001, t0);
        g.gain.exponentialRampToValueAtTime(0.2, t0 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.18);
        o.connect(g).connect(ctx.destination);
        o.start(t0);
        o.stop(t0 + 0.2);
      }
    } catch {
      /* no audio device: the title count still shows it */
    }
  }
}

export const alarmStore = new AlarmStore();

// ---------------------------------------------------------------- REST actions

export const enc = encodeURIComponent;
const post = (id: string, op: string, body: object) =>
  api<AlarmAnswer>(`alarms/${enc(id)}/${op}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export const alarmApi = {
  list: (q = '') => api<AlarmListAnswer>(`alarms${q}`),
  get: (id: string) => api<AlarmAnswer>(`alarms/${enc(id)}`),
  history: (id: string) => api<AlarmHistoryAnswer>(`alarms/${enc(id)}/history?limit=200`),
  acknowledge: (id: string, comment: string) => post(id, 'acknowledge', comment ? { comment } : {}),
  shelve: (id: string, reason: string, forS: number) => post(id, 'shelve', { reason, forS }),
  unshelve: (id: string) => post(id, 'unshelve', {}),
  comment: (id: string, comment: string) => post(id, 'comment', { comment }),
  /** admin only (server/alarms/routes.ts) */
  removeFromService: (id: string, reason: string) => post(id, 'remove-from-service', { reason }),
  returnToService: (id: string, comment: string) => post(id, 'return-to-service', comment ? { comment } : {}),
};

/** After an action, the answer holds the alarm as it now is: show it at once (the frame follows). */
export function applyAnswer(a: AlarmView): void {
  alarmStore.put(a);
}

// ---------------------------------------------------------------- title-bar count

export function titleCount(base: string): string {
  const n = alarmStore.unackedHigh();
  return n ? `(${n}) ${base}` : base;
}

