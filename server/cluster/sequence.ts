/**
 * One alarm sequence for every server of a cluster (docs/cluster.md, One
 * alarm set).
 *
 * A seq is `round × SLOTS + slot`: `slot` is this server's, taken at start
 * from a counter in the KV bucket `<prefix>_seq` with compare-and-set (so two
 * running servers never hold the same one), and `round` is one more than the
 * round of the largest seq this server has seen — its own, the journal's at
 * start, and every transition the other servers fanned out. Seqs are
 * therefore unique across the cluster without a request per transition (the
 * alarm service numbers a transition in the same synchronous step that makes
 * it), each server's are increasing, and a transition made after another
 * server's transition was seen (an acknowledgement of it, a takeover) gets a
 * larger seq: per alarm the journal's seq order is the order of its
 * transitions.
 */
import type { KV } from 'nats';

/** slots of a round: servers started before a slot comes round again (a counter modulo SLOTS) never share it */
export const SLOTS = 1024;

/** The next seq of `slot` after `last`, the largest seq seen anywhere. */
export function nextSeq(last: number, slot: number): number {
  return (Math.floor(Math.max(0, last) / SLOTS) + 1) * SLOTS + slot;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEY = 'slot';

/**
 * Takes the next slot from the bucket's counter: read, then write the
 * incremented value at the revision read (created if absent); retried when
 * another server moved the counter in between.
 */
export async function takeSlot(kv: KV, attempts = 20): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const e = await kv.get(KEY);
    const cur = e && e.operation === 'PUT' ? Number(dec.decode(e.value)) : -1;
    const next = Number.isSafeInteger(cur) ? cur + 1 : 0;
    try {
      if (e && e.operation === 'PUT') await kv.update(KEY, enc.encode(String(next)), e.revision);
      else await kv.create(KEY, enc.encode(String(next)));
      return next % SLOTS;
    } catch (err) {
      if (!/wrong last sequence|key exists/i.test(String((err as Error)?.message ?? err))) throw err;
    }
  }
  throw new Error(`no alarm sequence slot after ${attempts} attempts: the counter kept moving`);
}
