/**
 * The streaming decoder: frames split across reads at every byte, several in
 * one read, wake-up bytes and garbage before them, and each kind of broken
 * frame rejected with its reason while the good frames around it still come
 * out. What it holds never exceeds one frame.
 */
import { describe, expect, it } from 'vitest';
import { Dlt645Decoder, encodeFrame, MAX_FRAME_BYTES, readRequest, type DecodeEvent } from '../../edge-agent/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const UA = hex('68 78 56 34 12 00 00 68 91 06 33 34 34 35 48 56 E9 16');
const BLOCK = hex('68 78 56 34 12 00 00 68 91 0A 33 32 34 35 48 56 CB 55 33 56 94 16');

const kinds = (ev: DecodeEvent[]) => ev.map((e) => (e.kind === 'frame' ? `frame ${e.frame.address} ${e.frame.data.length}` : `${e.reason} ${e.bytes}`));

describe('streaming decoder', () => {
  it('a frame split at every position, and byte by byte, comes out once and whole', () => {
    const wire = Buffer.concat([hex('FE FE FE FE'), BLOCK]);
    for (let cut = 1; cut < wire.length; cut++) {
      const d = new Dlt645Decoder();
      const ev = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
      expect(kinds(ev), `cut at ${cut}`).toEqual(['frame 000012345678 10']);
      expect(d.pending).toBe(0);
    }
    const d = new Dlt645Decoder();
    const ev = [...wire].flatMap((b) => d.push(Uint8Array.of(b)));
    expect(kinds(ev)).toEqual(['frame 000012345678 10']);
    expect(d.stats()).toMatchObject({ frames: 1, droppedBytes: 0, preambleBytes: 4 });
  });

  it('several frames in one read, garbage before and between', () => {
    const d = new Dlt645Decoder();
    const ev = d.push(Buffer.concat([hex('00 11 22'), UA, hex('FE FE'), BLOCK, hex('33'), UA]));
    expect(kinds(ev)).toEqual(['garbage 3', 'frame 000012345678 6', 'frame 000012345678 10', 'garbage 1', 'frame 000012345678 6']);
    expect(ev[0]).toMatchObject({ detail: '3 bytes before a frame start (68)' });
  });

  it('bad checksum: the frame is dropped whole with its reason, the next one is read', () => {
    const bad = Buffer.from(UA);
    bad[bad.length - 2]! ^= 0x01;
    const ev = new Dlt645Decoder().push(Buffer.concat([bad, UA]));
    expect(kinds(ev)).toEqual([`bad_checksum ${UA.length}`, 'frame 000012345678 6']);
    expect(ev[0]).toMatchObject({ detail: 'checksum 0xe8, the bytes sum to 0xe9' });
  });

  it('wrong length: L over 200, and L that does not end on 16, are rejected and the stream resynchronises', () => {
    const long = Buffer.from(UA);
    long[9] = 201;
    let ev = new Dlt645Decoder().push(Buffer.concat([long, UA]));
    expect(ev[0]).toMatchObject({ kind: 'reject', reason: 'bad_length', detail: 'L = 201, more than the 200 data bytes a frame may carry' });
    expect(kinds(ev).at(-1)).toBe('frame 000012345678 6');
    const short = Buffer.from(UA);
    short[9] = 5; // one byte short: where L says the frame ends there is no 16
    ev = new Dlt645Decoder().push(Buffer.concat([short, UA]));
    expect(ev[0]).toMatchObject({ kind: 'reject', reason: 'bad_end' });
    expect(kinds(ev).at(-1)).toBe('frame 000012345678 6');
    expect(ev.filter((e) => e.kind === 'frame')).toHaveLength(1);
  });

  it('a 68 without its second 68 is not a frame start', () => {
    const ev = new Dlt645Decoder().push(Buffer.concat([hex('68 01 02 03 04 05 06 07 08 09'), UA]));
    expect(ev[0]).toMatchObject({ kind: 'reject', reason: 'bad_header', bytes: 1 });
    expect(kinds(ev).at(-1)).toBe('frame 000012345678 6');
  });

  it('truncated: a frame cut short is held until end(), then rejected with how much came', () => {
    const d = new Dlt645Decoder();
    expect(d.push(UA.subarray(0, 12))).toEqual([]);
    expect(d.pending).toBe(12);
    expect(d.end()).toEqual([{ kind: 'reject', reason: 'truncated', bytes: 12, detail: 'a frame cut short: 12 of 18 bytes' }]);
    expect(d.pending).toBe(0);
    // and the stream goes on after it
    expect(kinds(d.push(UA))).toEqual(['frame 000012345678 6']);
    // cut before L: how much came is all there is to say
    d.push(UA.subarray(0, 4));
    expect(d.end()).toEqual([{ kind: 'reject', reason: 'truncated', bytes: 4, detail: 'a frame cut short after 4 bytes' }]);
  });

  it('garbage alone is reported at end(); FE alone is not garbage', () => {
    const d = new Dlt645Decoder();
    expect(d.push(hex('FE FE 01 02'))).toEqual([]);
    expect(kinds(d.end())).toEqual(['garbage 2']);
    expect(d.stats()).toMatchObject({ preambleBytes: 2, droppedBytes: 2 });
  });

  it('holds at most one frame: a megabyte without a frame start leaves nothing behind', () => {
    const d = new Dlt645Decoder();
    for (let i = 0; i < 1024; i++) {
      d.push(Buffer.alloc(1024, 0x55));
      expect(d.pending).toBe(0);
    }
    // a frame start followed by a long stretch: held only up to its claimed length
    d.push(hex('68 00 00 00 00 00 00 68 91 C8'));
    d.push(Buffer.alloc(150, 0x55));
    expect(d.pending).toBeLessThan(MAX_FRAME_BYTES);
    d.push(Buffer.alloc(150, 0x55));
    expect(d.pending).toBeLessThan(MAX_FRAME_BYTES);
  });

  it('a request frame with its preamble round-trips through the decoder', () => {
    const ev = new Dlt645Decoder().push(encodeFrame(readRequest('000000000001', '00010000'), 4));
    expect(ev).toHaveLength(1);
    const f = (ev[0] as { kind: 'frame'; frame: { address: string; control: number; data: Uint8Array } }).frame;
    expect(f).toEqual({ address: '000000000001', control: 0x11, data: Uint8Array.from([0, 0, 1, 0]) });
  });
});
