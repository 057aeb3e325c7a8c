/** Both spool implementations against the contract, and what only the disk spool has: files, recovery, lock, fsync. */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskSpool, EdgeAgentError, MemorySpool, type DiskSpoolOptions, type Spool } from '../../edge-agent/index.ts';
import { testLog } from '../support/logger.ts';
import { spoolContract } from './spool-contract.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'gw-spool-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const diskOpts = new WeakMap<Spool, DiskSpoolOptions>();
function disk(opts: Partial<DiskSpoolOptions> & { dir?: string } = {}): DiskSpool {
  const maxBytes = opts.maxBytes ?? 1 << 20;
  const o: DiskSpoolOptions = { dir: tmp(), fsync: 'none', fsyncIntervalMs: 1000, maxBytes, segmentBytes: Math.floor(maxBytes / 8), log: testLog, ...opts };
  const s = new DiskSpool(o);
  diskOpts.set(s, o);
  return s;
}

spoolContract('memory', { create: (o) => new MemorySpool(o) });
spoolContract('disk', {
  create: (o) => disk(o),
  reopen: (old) => {
    const o = diskOpts.get(old)!;
    const s = new DiskSpool(o);
    diskOpts.set(s, o);
    return s;
  },
});

const T0 = Date.UTC(2026, 0, 7, 4, 0, 0);
const r = (i: number) => ({ device: `m${i % 3}`, ts: T0 + i * 1000, v: { ua: 230 + i / 10 }, q: 'good' as const });
const segFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();

describe('disk spool', () => {
  it('writes JSON lines into segments named by their first seq, rolls at segmentBytes, deletes segments once wholly acknowledged', () => {
    const s = disk({ maxBytes: 64 * 1024, segmentBytes: 4096, initialSeq: 1_767_225_600_000 });
    const dir = diskOpts.get(s)!.dir;
    s.open();
    for (let i = 0; i < 300; i++) s.append(r(i));
    s.flush();
    const files = segFiles(dir);
    expect(files.length).toBeGreaterThan(3);
    expect(files[0]).toBe('0001767225600000.seg');
    const first = readFileSync(path.join(dir, files[0]!), 'utf8').split('\n');
    expect(JSON.parse(first[0]!)).toEqual({ ...r(0), seq: 1_767_225_600_000 });
    for (const f of files.slice(0, -1)) expect(readFileSync(path.join(dir, f)).length).toBeGreaterThanOrEqual(4096);
    // a segment goes only when every reading in it is acknowledged
    const secondFirst = Number(files[1]!.slice(0, -4));
    s.ack(secondFirst - 2);
    expect(segFiles(dir)[0]).toBe(files[0]);
    s.ack(secondFirst - 1);
    expect(segFiles(dir)[0]).toBe(files[1]);
    s.ack(s.nextSeq - 1);
    expect(segFiles(dir)).toEqual([files.at(-1)]); // the one being written stays
    s.close();
    expect(JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8'))).toEqual({ acked: s.nextSeq - 1, nextSeq: s.nextSeq, lost: 0 });
    expect(readdirSync(dir)).not.toContain('lock');
  });

  it('reads a backlog older than its memory from the segment files, identical to what was appended', () => {
    const s = disk({ maxBytes: 1 << 20, segmentBytes: 8192, memReadings: 10 });
    s.open();
    const appended = Array.from({ length: 500 }, (_, i) => s.append(r(i)));
    const got = [];
    for (let from = 0; ; ) {
      const page = s.read(from, 64);
      if (!page.length) break;
      got.push(...page);
      from = page.at(-1)!.seq + 1;
    }
    expect(got).toEqual(appended);
    s.close();
  });

  it('after a crash mid-write: the torn line is cut off, counted, and numbering continues after the last whole reading', () => {
    const s = disk({});
    const o = diskOpts.get(s)!;
    s.open();
    for (let i = 0; i < 20; i++) s.append(r(i));
    s.close();
    const newest = path.join(o.dir, segFiles(o.dir).at(-1)!);
    appendFileSync(newest, '{"device":"m2","ts":17677');
    const again = new DiskSpool(o);
    again.open();
    expect(again.nextSeq).toBe(20);
    expect(again.stats().corrupt).toBe(1);
    expect(readFileSync(newest, 'utf8').endsWith('}\n')).toBe(true);
    expect(again.append(r(20)).seq).toBe(20);
    again.flush();
    expect(again.read(0, 100).map((x) => x.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i));
    again.close();
  });

  it('garbage inside an older segment is skipped and counted; the readings around it are served', () => {
    const s = disk({ maxBytes: 1 << 20, segmentBytes: 2048, memReadings: 5 });
    const o = diskOpts.get(s)!;
    s.open();
    for (let i = 0; i < 100; i++) s.append(r(i));
    s.close();
    const oldest = path.join(o.dir, segFiles(o.dir)[0]!);
    const lines = readFileSync(oldest, 'utf8').split('\n');
    lines[2] = '\u0000\u0000 not json';
    writeFileSync(oldest, lines.join('\n'));
    const again = new DiskSpool({ ...o, memReadings: 5 });
    again.open();
    const got = again.read(0, 1000);
    expect(got[0]!.seq).toBe(0);
    expect(got.map((x) => x.seq)).not.toContain(2);
    expect(again.stats().corrupt).toBe(1);
    again.close();
  });

  it('one process per directory: a lock held by a live process refuses, a dead owner\'s lock is taken over', () => {
    const o = diskOpts.get(disk({}))!;
    writeFileSync(path.join(o.dir, 'lock'), String(process.ppid)); // alive: our parent
    const s = new DiskSpool(o);
    expect(() => s.open()).toThrow(EdgeAgentError);
    try {
      new DiskSpool(o).open();
    } catch (e) {
      expect((e as EdgeAgentError).code).toBe('GW_ERR_SPOOL_LOCKED');
    }
    writeFileSync(path.join(o.dir, 'lock'), '2147483646'); // no such process
    const t = new DiskSpool(o);
    t.open();
    expect(readFileSync(path.join(o.dir, 'lock'), 'utf8')).toBe(String(process.pid));
    t.close();
  });

  it('fsync policy: `always` syncs every flush that wrote, `none` never, `interval` on its timer', async () => {
    const always = disk({ fsync: 'always' });
    always.open();
    for (let i = 0; i < 5; i++) {
      always.append(r(i));
      always.flush();
    }
    expect(always.stats().fsyncs).toBe(5);
    always.flush(); // nothing new written: nothing to sync
    expect(always.stats().fsyncs).toBe(5);
    always.close();

    const none = disk({ fsync: 'none' });
    none.open();
    none.append(r(0));
    none.flush();
    none.close();
    expect(none.stats().fsyncs).toBe(0);

    const interval = disk({ fsync: 'interval', fsyncIntervalMs: 20 });
    interval.open();
    interval.append(r(0));
    interval.flush();
    expect(interval.stats().fsyncs).toBe(0);
    await new Promise((res) => setTimeout(res, 80));
    expect(interval.stats().fsyncs).toBe(1);
    interval.close();
  });

  it('rejects a segment size the quota cannot drop whole', () => {
    expect(() => new DiskSpool({ dir: tmp(), fsync: 'none', fsyncIntervalMs: 1000, maxBytes: 10_000, segmentBytes: 6000, log: testLog })).toThrow(RangeError);
  });

  it('lets go of readings that fall out of its memory window (they are read back from disk)', () => {
    const s = disk({ memReadings: 16 });
    s.open();
    for (let i = 0; i < 40; i++) s.append(r(i));
    s.flush();
    expect(s.held()).toMatchObject({ windowFrom: 24, windowReadings: 16 });
    // still there for the sender, from the segment file
    expect(s.read(s.firstSeq, 1)[0]).toMatchObject(r(0));
    s.close();
  });

  it('lets go of a segment read back for a lagging sender once the sender reads from memory again', () => {
    const s = disk({ memReadings: 16, segmentBytes: 1 << 16 });
    s.open();
    for (let i = 0; i < 200; i++) s.append(r(i));
    // behind the memory window: read from the segment file, which stays cached for the next batch
    expect(s.read(s.firstSeq, 1)[0]).toMatchObject(r(0));
    expect(s.held().cachedSegment).not.toBeNull();
    // caught up: the newest readings come from memory, and the segment is let go
    expect(s.read(s.stats().nextSeq - 4, 4).map((x) => x.seq)).toEqual([196, 197, 198, 199]);
    expect(s.held().cachedSegment).toBeNull();
    // and read back again when asked
    expect(s.read(s.firstSeq, 1)[0]).toMatchObject(r(0));
    s.close();
  });

  it('holds at most memoryBytes of written readings in memory; the rest are read back from disk, identical', () => {
    const line = Buffer.byteLength(`${JSON.stringify({ ...r(0), seq: 0 })}\n`);
    const s = disk({ memoryBytes: line * 8 });
    s.open();
    for (let i = 0; i < 40; i++) s.append(r(i));
    s.flush();
    const held = s.held();
    // the newest that fit in the bound (a reading's line is within a byte or two of the first's)
    expect(held.windowReadings).toBeGreaterThanOrEqual(6);
    expect(held.windowReadings).toBeLessThanOrEqual(8);
    expect(held.windowBytes).toBeLessThanOrEqual(line * 8);
    expect(held.windowFrom + held.windowReadings).toBe(40);
    const got = [];
    for (let from = 0; ; ) {
      const page = s.read(from, 16);
      if (!page.length) break;
      got.push(...page);
      from = page.at(-1)!.seq + 1;
    }
    expect(got.map((x) => x.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(got[0]).toMatchObject(r(0));
    s.close();
  });

  it('lets go of what the sender has read from memory; a resend reads it back from disk', () => {
    const s = disk({});
    s.open();
    for (let i = 0; i < 40; i++) s.append(r(i));
    s.flush();
    expect(s.read(0, 20).map((x) => x.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // the next read, from where the sender goes on, is served from memory and drops what came before
    expect(s.read(20, 20).map((x) => x.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 20));
    expect(s.held()).toMatchObject({ windowFrom: 20, windowReadings: 20 });
    // a rewind (publish failed, reconnect) reads the sent ones again, from the segment file
    expect(s.read(0, 40).map((x) => x.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(s.read(0, 40)).toEqual(Array.from({ length: 40 }, (_, i) => ({ ...r(i), seq: i })));
    s.close();
  });

  it('gives the uplink each reading as the JSON line it wrote, with its seq and ts, from memory and from disk alike', () => {
    const s = disk({ memReadings: 8 });
    s.open();
    const appended = Array.from({ length: 30 }, (_, i) => s.append(i % 3 === 0 ? { ...r(i), late: true } : r(i)));
    s.flush();
    const onDisk = readFileSync(path.join(diskOpts.get(s)!.dir, readdirSync(diskOpts.get(s)!.dir).find((f) => f.endsWith('.seg'))!), 'utf8').split('\n').filter(Boolean);
    // from the segment file (behind the window of 8), then from memory
    const fromDisk = s.readEncoded(0, 22);
    expect(fromDisk.seqs).toEqual(Array.from({ length: 22 }, (_, i) => i));
    const fromMem = s.readEncoded(22, 30);
    expect(fromMem.seqs).toEqual(Array.from({ length: 8 }, (_, i) => i + 22));
    const json = [...fromDisk.json, ...fromMem.json];
    expect(json).toEqual(onDisk);
    expect(json.map((l) => JSON.parse(l) as unknown)).toEqual(appended);
    expect([...fromDisk.ts, ...fromMem.ts]).toEqual(appended.map((a) => a.ts));
    // `late`, when a reading has it, is its last key (the uplink relies on it)
    expect(json.filter((l) => l.endsWith(',"late":true}'))).toHaveLength(10);
    s.close();
  });

  it('the lost count survives a restart', () => {
    const s = disk({ maxBytes: 16 * 1024, segmentBytes: 2048 });
    const o = diskOpts.get(s)!;
    s.open();
    for (let i = 0; i < 1000; i++) s.append(r(i));
    const lost = s.stats().lost;
    expect(lost).toBeGreaterThan(0);
    s.close();
    const again = new DiskSpool(o);
    again.open();
    expect(again.stats().lost).toBe(lost);
    expect(again.stats().unacked + lost).toBe(1000);
    again.close();
  });
});
