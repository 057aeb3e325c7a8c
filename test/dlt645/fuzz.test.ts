/**
 * A million frames into the streaming decoder from a seeded PRNG (the same
 * bytes every run): valid frames with random content, frames with one
 * mutation each (a byte changed, dropped, inserted, or the frame cut short),
 * and pure noise, all fed in random-sized pieces with pauses (end(), as
 * after a timeout) between some of them. Nothing throws, nothing
 * waits forever, every reject names its reason, the decoder never holds more
 * than one frame, and every byte is accounted for (decoded, rejected or a
 * wake-up byte).
 */
import { describe, expect, it } from 'vitest';
import { Dlt645Decoder, encodeFrame, MAX_FRAME_BYTES, REJECT_REASONS, type DecodeEvent, type Dlt645Frame } from '../../edge-agent/index.ts';
import { prng } from '../support/prng.ts';

const REASONS = new Set<string>(REJECT_REASONS);

function randomFrame(rnd: () => number): Dlt645Frame {
  const digits = String(Math.floor(rnd() * 1e12)).padStart(12, '0');
  // mostly short, as replies are; now and then up to the longest
  const len = rnd() < 0.02 ? Math.floor(rnd() * 201) : Math.floor(rnd() * 24);
  const data = new Uint8Array(len);
  for (let i = 0; i < len; i++) data[i] = (rnd() * 256) | 0;
  return { address: digits, control: (rnd() * 256) | 0, data };
}

function mutate(b: Buffer, rnd: () => number): Buffer {
  const at = Math.floor(rnd() * b.length);
  switch (Math.floor(rnd() * 4)) {
    case 0: {
      const c = Buffer.from(b);
      c[at] = (c[at]! + 1 + Math.floor(rnd() * 255)) & 0xff; // a different byte, never the same
      return c;
    }
    case 1:
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    case 2:
      return Buffer.concat([b.subarray(0, at), Buffer.of(Math.floor(rnd() * 256)), b.subarray(at)]);
    default:
      return b.subarray(0, at);
  }
}

interface Tally {
  frames: Dlt645Frame[];
  frameBytes: number;
  rejects: number;
  pushed: number;
}

/** Feeds `wire` in random pieces; checks the invariants after every piece. */
function feed(d: Dlt645Decoder, wire: Buffer, rnd: () => number, t: Tally): void {
  const check = (ev: DecodeEvent[]) => {
    for (const e of ev) {
      if (e.kind === 'frame') {
        t.frames.push(e.frame);
        t.frameBytes += 12 + e.frame.data.length;
      } else {
        t.rejects++;
        if (!REASONS.has(e.reason) || e.detail.length === 0 || !(e.bytes > 0)) throw new Error(`a reject without a reason: ${JSON.stringify(e)}`);
      }
    }
    if (d.pending >= MAX_FRAME_BYTES) throw new Error(`holding ${d.pending} bytes`);
  };
  for (let o = 0; o < wire.length; ) {
    const n = 1 + Math.floor(rnd() * 96);
    check(d.push(wire.subarray(o, o + n)));
    o += n;
  }
  t.pushed += wire.length;
}

describe('decoder fuzz: 10^6 random and mutated frames', () => {
  it('valid frames with random content, split anywhere, all come out exactly', () => {
    const rnd = prng(645);
    const d = new Dlt645Decoder();
    const t: Tally = { frames: [], frameBytes: 0, rejects: 0, pushed: 0 };
    let sent: Dlt645Frame[] = [];
    let checked = 0;
    for (let batch = 0; batch < 100; batch++) {
      const frames = Array.from({ length: 3000 }, () => randomFrame(rnd));
      const wire = Buffer.concat(frames.map((f) => encodeFrame(f, Math.floor(rnd() * 5))));
      feed(d, wire, rnd, t);
      sent = sent.concat(frames);
      // compare and forget, so memory stays flat
      expect(t.frames.length).toBe(sent.length);
      for (let i = 0; i < sent.length; i++) {
        const a = t.frames[i]!;
        const b = sent[i]!;
        let same = a.address === b.address && a.control === b.control && a.data.length === b.data.length;
        for (let k = 0; same && k < a.data.length; k++) same = a.data[k] === b.data[k];
        if (!same) throw new Error(`frame ${checked + i} differs`);
      }
      checked += sent.length;
      sent = [];
      t.frames = [];
    }
    expect(checked).toBe(300_000);
    expect(t.rejects).toBe(0);
    const s = d.stats();
    expect(s.frames).toBe(300_000);
    expect(t.frameBytes + s.preambleBytes).toBe(t.pushed);
  });

  it('mutated frames between good ones, and noise: no crash, a reason for every reject, every byte accounted for', () => {
    const rnd = prng(2007);
    const d = new Dlt645Decoder();
    const t: Tally = { frames: [], frameBytes: 0, rejects: 0, pushed: 0 };
    const sentinel = encodeFrame({ address: '000000000001', control: 0x91, data: Uint8Array.of(0, 1, 1, 2, 0x15, 0x23) });
    let mutated = 0;
    let noise = 0;
    let sentinels = 0;
    let goodDecoded = 0;
    const t0 = performance.now();
    for (let batch = 0; batch < 100; batch++) {
      const parts: Buffer[] = [];
      for (let i = 0; i < 7000; i++) {
        const r = rnd();
        if (r < 0.6) {
          parts.push(mutate(encodeFrame(randomFrame(rnd), Math.floor(rnd() * 5)), rnd));
          mutated++;
        } else if (r < 0.9) {
          const noiseBytes = Buffer.allocUnsafe(1 + Math.floor(rnd() * 40));
          for (let k = 0; k < noiseBytes.length; k++) noiseBytes[k] = (rnd() * 256) | 0;
          parts.push(noiseBytes);
          noise++;
        } else {
          parts.push(sentinel);
          sentinels++;
        }
      }
      // the stream pauses now and then (a timeout): what is held then is rejected as truncated
      for (let i = 0; i < parts.length; i += 70) {
        feed(d, Buffer.concat(parts.slice(i, i + 70)), rnd, t);
        if (rnd() < 0.5) for (const e of d.end()) if (e.kind !== 'reject' || !REASONS.has(e.reason)) throw new Error('end() gave something other than a reject with a reason');
      }
      for (const f of t.frames) if (f.address === '000000000001' && f.control === 0x91 && f.data.length === 6) goodDecoded++;
      t.frames = [];
    }
    const end = d.end();
    for (const e of end) if (e.kind !== 'reject' || !REASONS.has(e.reason)) throw new Error('end() gave something other than a reject with a reason');
    const s = d.stats();
    expect(mutated + noise + sentinels).toBe(700_000);
    expect(d.pending).toBe(0);
    // every byte: in a decoded frame, given up with a reason, or a skipped FE
    expect(t.frameBytes + s.droppedBytes + s.preambleBytes).toBe(t.pushed);
    // the decoder resynchronises: nearly every good frame after a broken one is still found
    expect(goodDecoded).toBeGreaterThan(sentinels * 0.97);
    expect(goodDecoded).toBeLessThanOrEqual(sentinels);
    for (const reason of REJECT_REASONS) expect(s.rejects[reason], reason).toBeGreaterThan(0);
    // printed, not asserted: a loaded machine is slower
    console.log(`fuzz: ${mutated} mutated, ${noise} noise, ${sentinels} good frames, ${goodDecoded} good decoded; rejects ${JSON.stringify(s.rejects)}; ${Math.round(performance.now() - t0)} ms`);
  });
});
