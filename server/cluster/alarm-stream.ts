/**
 * The alarm stream of a cluster (docs/cluster.md, One alarm set): every
 * transition and escalation a server makes goes on the replicated JetStream
 * stream `<prefix>_alarms`, subject `gwc.alarm.p<n>` for an alarm of
 * partition n (`gwc.alarm.x` for one of no partition: the broker alarm, the
 * outage pool's, line loss), so the stream's order is one order per
 * partition. Bounded by age and bytes (`alarmStream`), oldest dropped.
 *
 *  - AlarmPublisher: this server's entries, published at once and in order
 *    (pipelined), each with a message id (`<server>-<seq>`) so a publish
 *    retried after a lost answer is stored once (the stream's duplicate
 *    window). `durable` is the largest seq up to which every entry of this
 *    server is in the stream; `whenDurable` waits for a seq. A failed publish
 *    is sent again with every one after it, in order, until stored.
 *  - follow: an ordered consumer over `gwc.alarm.>` from a stream sequence:
 *    the client recreates it at the next sequence after a gap, a reconnection
 *    or missed heartbeats, so a frame is never skipped while the stream holds
 *    it.
 *  - replay: one partition's frames between two stream sequences (a
 *    takeover).
 */
import { DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, headers, nanos, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type PubAck } from 'nats';
import type { Logger } from 'pino';
import type { EscalationEntry, TransitionEntry } from '../alarms/journal.ts';

export type AlarmEntry = TransitionEntry | EscalationEntry;

/** what goes on the stream: an entry and the server that made it */
export interface AlarmStreamFrame {
  from: string;
  entry: AlarmEntry;
}

export const ALARM_SUBJECTS = 'gwc.alarm.>';

export function alarmSubject(partition: number | null): string {
  return partition === null ? 'gwc.alarm.x' : `gwc.alarm.p${partition}`;
}

/** partition of an alarm stream subject, null for `gwc.alarm.x` and anything else */
export function partitionOfAlarmSubject(subject: string): number | null {
  const m = /^gwc\.alarm\.p(\d+)$/.exec(subject);
  return m ? Number(m[1]) : null;
}

export interface AlarmStreamOptions {
  name: string;
  replicas: number;
  maxAgeS: number;
  maxBytes: number;
}

/** Makes the stream, or brings an existing one to these bounds. */
export async function ensureAlarmStream(jsm: JetStreamManager, o: AlarmStreamOptions): Promise<void> {
  const want = {
    name: o.name,
    subjects: [ALARM_SUBJECTS],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: o.replicas,
    max_age: nanos(o.maxAgeS * 1000),
    max_bytes: o.maxBytes,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(120_000),
  };
  const exists = await jsm.streams.info(o.name).then(
    () => true,
    () => false,
  );
  if (exists) await jsm.streams.update(o.name, want);
  else
    await jsm.streams.add(want).catch(async (err) => {
      // another server created it a moment ago
      if (!(await jsm.streams.info(o.name).then(() => true, () => false))) throw err;
    });
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** a replay that gets nothing for this long ends, ms */
const REPLAY_IDLE_MS = 10_000;
/** longest pause between attempts of a publish that keeps failing, ms */
const MAX_RETRY_MS = 2000;

/** publishes in flight at most: while the stream does not answer, what waits beyond them is sent as they are stored */
const WINDOW = 512;

interface Outgoing {
  seq: number;
  subject: string;
  data: Uint8Array;
  /** null: not sent yet (beyond the window) */
  result: Promise<PubAck | Error> | null;
}

export class AlarmPublisher {
  /** the largest seq handed to `publish` */
  last = 0;
  /** every entry of this server up to this seq is in the stream */
  durable = 0;
  private readonly out: Outgoing[] = [];
  private pumping = false;
  private failing = false;
  private waiters: Array<{ seq: number; done: () => void }> = [];

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly id: string,
    private readonly log: Logger,
  ) {}

  publish(subject: string, entry: AlarmEntry): void {
    const data = enc.encode(JSON.stringify({ from: this.id, entry } satisfies AlarmStreamFrame));
    const o: Outgoing = { seq: entry.seq, subject, data, result: null };
    if (this.out.length < WINDOW) o.result = this.send(o);
    this.out.push(o);
    this.last = Math.max(this.last, entry.seq);
    void this.pump();
  }

  /** Resolves once every entry of this server up to `seq` is in the stream. */
  whenDurable(seq: number): Promise<void> {
    if (seq <= this.durable) return Promise.resolve();
    return new Promise((done) => this.waiters.push({ seq, done }));
  }

  /** entries not yet in the stream */
  get pending(): number {
    return this.out.length;
  }

  private send(o: Outgoing): Promise<PubAck | Error> {
    const h = headers();
    h.set('Nats-Msg-Id', `${this.id}-${o.seq}`);
    return this.js.publish(o.subject, o.data, { headers: h, expect: { streamName: this.stream } }).then(
      (ack) => ack,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let delay = 100;
    try {
      while (this.out.length > 0) {
        const head = this.out[0]!;
        for (let i = 0; i < Math.min(WINDOW, this.out.length); i++) this.out[i]!.result ??= this.send(this.out[i]!);
        const r = await head.result!;
        if (r instanceof Error) {
          if (!this.failing) this.log.error({ err: r, pending: this.out.length }, 'alarm stream publish failed; retried in order');
          this.failing = true;
          await new Promise((res) => setTimeout(res, delay));
          delay = Math.min(MAX_RETRY_MS, delay * 2);
          // the failed one and every one after it again, in order (the message ids keep a stored one from being stored twice)
          for (const o of this.out) o.result = null;
          continue;
        }
        if (this.failing) this.log.info({ pending: this.out.length }, 'alarm stream publishes recovered');
        this.failing = false;
        delay = 100;
        this.out.shift();
        this.durable = Math.max(this.durable, head.seq);
        if (this.waiters.length) {
          const ready = this.waiters.filter((w) => w.seq <= this.durable);
          this.waiters = this.waiters.filter((w) => w.seq > this.durable);
          for (const w of ready) w.done();
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}

/** A frame read from the stream, with its stream sequence and subject. */
export interface StreamedFrame {
  streamSeq: number;
  subject: string;
  frame: AlarmStreamFrame | null;
}

function parse(data: Uint8Array): AlarmStreamFrame | null {
  try {
    const f = JSON.parse(dec.decode(data)) as Partial<AlarmStreamFrame>;
    const e = f.entry;
    if (typeof f.from !== 'string' || !e || (e.kind !== 'transition' && e.kind !== 'escalation') || !Number.isSafeInteger(e.seq) || typeof e.alarmId !== 'string') return null;
    return f as AlarmStreamFrame;
  } catch {
    return null;
  }
}

/**
 * Follows the stream from `fromSeq` (1: from the first message it holds) with
 * an ordered consumer; `onFrame` gets every message in stream order.
 */
export async function follow(js: JetStreamClient, stream: string, fromSeq: number, onFrame: (f: StreamedFrame) => void, log: Logger): Promise<{ stop(): void; done: Promise<void> }> {
  // from a start sequence always: nats-server 2.9 refuses deliver policy `all` with the start sequence the ordered
  // consumer sets when it recreates itself, and the client retries that silently for ever
  const consumer = await js.consumers.get(stream, {
    filterSubjects: ALARM_SUBJECTS,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, fromSeq),
  });
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 512 });
  const done = (async () => {
    for await (const m of messages) {
      try {
        onFrame({ streamSeq: m.seq, subject: m.subject, frame: parse(m.data) });
      } catch (err) {
        log.error({ err, streamSeq: m.seq }, 'applying an alarm stream frame failed');
      }
    }
  })().catch((err) => log.error({ err }, 'following the alarm stream failed'));
  return { stop: () => messages.stop(), done };
}

/** The last stream sequence of a subject, 0 when the stream holds none of it. */
export async function lastOfSubject(jsm: JetStreamManager, stream: string, subject: string): Promise<number> {
  try {
    return (await jsm.streams.getMessage(stream, { last_by_subj: subject })).seq;
  } catch (err) {
    if (/no message found/i.test(String((err as Error)?.message ?? err))) return 0;
    throw err;
  }
}

/** The frames of one subject from stream sequence `fromSeq` up to its last message as of now, in order. */
export async function replay(js: JetStreamClient, jsm: JetStreamManager, stream: string, subject: string, fromSeq: number): Promise<{ frames: StreamedFrame[]; toSeq: number }> {
  const frames: StreamedFrame[] = [];
  const toSeq = await lastOfSubject(jsm, stream, subject);
  if (toSeq < fromSeq) return { frames, toSeq: Math.max(toSeq, fromSeq - 1) };
  const consumer = await js.consumers.get(stream, {
    filterSubjects: subject,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, fromSeq),
  });
  const messages = await consumer.consume({ max_messages: 500 });
  // nothing for a while although the subject's last message is ahead: it went meanwhile (the stream's bounds)
  let timer = setTimeout(() => messages.stop(), REPLAY_IDLE_MS);
  try {
    for await (const m of messages) {
      if (m.seq <= toSeq) frames.push({ streamSeq: m.seq, subject: m.subject, frame: parse(m.data) });
      if (m.seq >= toSeq) break;
      clearTimeout(timer);
      timer = setTimeout(() => messages.stop(), REPLAY_IDLE_MS);
    }
  } finally {
    clearTimeout(timer);
    messages.stop();
  }
  return { frames, toSeq };
}
