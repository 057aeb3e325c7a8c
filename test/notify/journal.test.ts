/** The notification journal on a real file: group-committed appends, a torn last line skipped, compaction. */
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { NotifyJournal, type JournalRecord } from '../../server/notify/journal.ts';

let dir = '';
afterEach(async () => rm(dir, { recursive: true, force: true }));

const upd = (id: string, n: number): JournalRecord => ({ t: 'upd', id, f: { attempts: n } });

it('keeps every record of concurrent appends, skips a torn last line and writes on after it', async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-nj-'));
  const j = new NotifyJournal(dir);
  expect(await j.open()).toEqual([]);
  await Promise.all(Array.from({ length: 50 }, (_, i) => j.append([upd(`m${i}`, 1), upd(`m${i}`, 2)])));
  await j.close();
  // a crash in the middle of a write
  await appendFile(j.file, '{"t":"upd","id":"m9","f":{"att');
  const k = new NotifyJournal(dir);
  const back = await k.open();
  expect(back).toHaveLength(100);
  expect(k.skipped).toBe(1);
  await k.append([upd('after', 3)]);
  await k.close();
  const again = new NotifyJournal(dir);
  const all = await again.open();
  expect(all.at(-1)).toEqual(upd('after', 3));
  expect(again.skipped).toBe(1);
  await again.compact([upd('only', 1)]);
  await again.append([upd('next', 2)]);
  await again.close();
  expect((await readFile(again.file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as JournalRecord)).toEqual([upd('only', 1), upd('next', 2)]);
});
