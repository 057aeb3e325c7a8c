/**
 * A partition's saved rule state in the KV bucket `<prefix>_rulestate`, of
 * any size (docs/cluster.md, Rule state for a takeover).
 *
 * One KV value is one NATS message (`max_payload`, 1 MB by default); a
 * province's partition holds more. The state's JSON is therefore cut into
 * chunks of CHUNK_BYTES, written under `p<n>.<slot>.<i>`, and a manifest
 * written last under `p<n>` names them: `{ manifest: 1, gen, slot, chunks,
 * bytes, savedAt, streamSeq }`. The two slots `a` and `b` alternate: a save
 * writes the slot the current manifest does not name, so a reader that read
 * the manifest before reads a whole state. Every chunk starts with its
 * save's `gen` and a newline; a reader that finds another gen in a chunk (a
 * third save overwrote the slot under it) reads the manifest again. The
 * keys are bounded (two slots per partition), not one set per save.
 *
 * A value in `p<n>` that is the state itself (`{ version: 1, states, … }`,
 * the format before chunks) is still read.
 */
import { randomBytes } from 'node:crypto';
import type { KV } from 'nats';
import type { PersistedState } from '../alarms/state-store.ts';

/** bytes of state per KV value: well under the default 1 MB `max_payload` with the key and headers */
export const CHUNK_BYTES = 512 * 1024;
/** reads of the manifest before a load gives up (each saved in between by another server) */
const LOAD_ATTEMPTS = 5;

export interface StateManifest {
  manifest: 1;
  gen: string;
  slot: 'a' | 'b';
  chunks: number;
  bytes: number;
  savedAt: number;
  /** every alarm entry of the partition's stream subject up to this stream sequence is journaled (alarm-sync.ts) */
  streamSeq: number;
}

export interface LoadedState {
  state: PersistedState;
  /** 0 for a state saved before the alarm stream */
  streamSeq: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const NL = 0x0a;

export class RuleStateStore {
  constructor(
    private readonly kv: KV,
    private readonly chunkBytes = CHUNK_BYTES,
  ) {}

  /** The manifest of a partition, null when none (or a state of the format before chunks). */
  async manifest(p: number): Promise<StateManifest | null> {
    const e = await this.kv.get(`p${p}`);
    if (!e || e.operation !== 'PUT') return null;
    const m = JSON.parse(dec.decode(e.value)) as Partial<StateManifest>;
    return m.manifest === 1 ? (m as StateManifest) : null;
  }

  /** Saves the state's JSON in chunks of the slot not in use, then the manifest naming them. */
  async save(p: number, json: string, savedAt: number, streamSeq: number): Promise<StateManifest> {
    const cur = await this.manifest(p).catch(() => null);
    const slot = cur?.slot === 'a' ? 'b' : 'a';
    const gen = `${savedAt.toString(36)}-${randomBytes(4).toString('hex')}`;
    const head = enc.encode(`${gen}\n`);
    const body = enc.encode(json);
    const chunks = Math.max(1, Math.ceil(body.length / this.chunkBytes));
    for (let i = 0; i < chunks; i++) {
      const part = body.subarray(i * this.chunkBytes, (i + 1) * this.chunkBytes);
      const value = new Uint8Array(head.length + part.length);
      value.set(head, 0);
      value.set(part, head.length);
      await this.kv.put(`p${p}.${slot}.${i}`, value);
    }
    const manifest: StateManifest = { manifest: 1, gen, slot, chunks, bytes: body.length, savedAt, streamSeq };
    await this.kv.put(`p${p}`, enc.encode(JSON.stringify(manifest)));
    return manifest;
  }

  /**
   * The partition's saved state, null when none was saved. Throws when it
   * does not parse, or when it kept changing under LOAD_ATTEMPTS reads.
   */
  async load(p: number): Promise<LoadedState | null> {
    for (let attempt = 0; attempt < LOAD_ATTEMPTS; attempt++) {
      const e = await this.kv.get(`p${p}`);
      if (!e || e.operation !== 'PUT') return null;
      const doc = JSON.parse(dec.decode(e.value)) as Partial<StateManifest> & Partial<PersistedState>;
      if (doc.manifest !== 1) return { state: checked(doc as PersistedState), streamSeq: 0 };
      const m = doc as StateManifest;
      const body = await this.readChunks(p, m);
      if (!body) continue;
      return { state: checked(JSON.parse(dec.decode(body)) as PersistedState), streamSeq: m.streamSeq };
    }
    throw new Error(`rule state of partition ${p} changed under ${LOAD_ATTEMPTS} reads`);
  }

  /** The chunks a manifest names, null when one of them belongs to another save. */
  private async readChunks(p: number, m: StateManifest): Promise<Uint8Array | null> {
    const body = new Uint8Array(m.bytes);
    let at = 0;
    for (let i = 0; i < m.chunks; i++) {
      const e = await this.kv.get(`p${p}.${m.slot}.${i}`);
      if (!e || e.operation !== 'PUT') return null;
      const nl = e.value.indexOf(NL);
      if (nl < 0 || dec.decode(e.value.subarray(0, nl)) !== m.gen) return null;
      const part = e.value.subarray(nl + 1);
      if (at + part.length > body.length) return null;
      body.set(part, at);
      at += part.length;
    }
    return at === body.length ? body : null;
  }
}

function checked(saved: PersistedState): PersistedState {
  if (saved.version !== 1 || typeof saved.states !== 'object' || saved.states === null) throw new Error(`unknown version ${String(saved.version)}`);
  return saved;
}
