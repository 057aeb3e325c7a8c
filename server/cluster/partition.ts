/**
 * The partition of an agent, as the NATS subject mapping computes it
 * (`{{partition(n,2)}}` over the agent token): FNV-1a (32 bit) of the
 * token's bytes modulo n. The server needs it to know which agents'
 * presence and retained state belong to the partitions it owns; the test
 * harness checks it against a real nats-server.
 */

export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const encoder = new TextEncoder();

/** partition of a subject token (an agent id for readings, a site id for calls) among `n` */
export function partitionOf(token: string, n: number): number {
  return fnv1a32(encoder.encode(token)) % n;
}
