/**
 * The risk items' journal on disk: items rebuilt from it with every event, a
 * torn last line skipped, compaction at start into one record per item and
 * station, and an opening notice whose `notified` step never made it to the
 * journal (the process died in between) handed to the notification port at
 * the next start — once, by its key. A process killed with SIGKILL in the
 * middle of a burst of follow-ups keeps every one it had answered.
 */
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RiskCode, StationRiskDay } from '../../contract/risk.ts';
import { ContactDirectory } from '../../server/notify/contacts.ts';
import { NotifyService } from '../../server/notify/service.ts';
import { RiskItems, type RiskItemsOptions } from '../../server/risk/items/service.ts';
import { RIG_OPTIONS } from '../notify/support.ts';
import { testLog } from '../support/logger.ts';

const T0 = Date.UTC(2026, 10, 1, 22);
let dir: string;
let contacts: ContactDirectory;

function day(station: string, n: number, code: RiskCode): StationRiskDay {
  return {
    station, day: `2026-11-${String(n).padStart(2, '0')}`, computedAt: T0 + n * 86_400_000, run: 'daily', window: { from: 0, to: 1 }, score: 1, coverage: 1,
    rawCode: code, code, driving: 'fault-outages', dimensions: { demand: null, handling: null, speed: null }, indicators: [],
  };
}

const options = (base: string, compactAbove = 1_000_000): RiskItemsOptions => ({
  dir: path.join(base, 'risk'), tickMs: 60_000, compactAbove, answerWithinHours: { yellow: 72, red: 24 },
  stationRoles: ['station_head'], onDutyRoles: ['on_call'], leaderRoles: ['leader'],
  notice: { lang: 'zh', tzOffsetMin: 480, dashboardUrl: 'http://127.0.0.1:8080/', stationName: (s) => s },
});

function items(notifier: NotifyService | null, compactAbove = 1_000_000): RiskItems {
  return new RiskItems(options(dir, compactAbove), { contacts, notifier, log: testLog, now: () => T0 + 20 * 86_400_000 });
}

const lines = async () => (await readFile(path.join(dir, 'risk', 'items.jsonl'), 'utf8')).split('\n').filter(Boolean).length;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-journal-'));
  contacts = new ContactDirectory({ dataDir: dir });
  await contacts.start();
  const r = await contacts.replace({ people: [{ id: 'h1', name: '一所所长', phone: '13800000001', roles: ['station_head'], stations: ['s1'] }] });
  expect(r.ok).toBe(true);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('risk item journal', () => {
  it('rebuilds every item with its events, skips a torn last line, compacts at start, and owes no notice it sent', async () => {
    // nothing is overdue at the test's time (day 20): s1 is answered, s2 due on day 22
    // without a notification port: the opening notices stay owed
    const a = items(null);
    await a.start();
    for (let n = 1; n <= 20; n++) await a.onComputed([day('s1', n, n < 5 ? 'green' : n < 12 ? 'yellow' : 'red'), day('s2', n, n >= 19 ? 'yellow' : 'green'), day('s3', n, 'green')]);
    const [s1] = a.list({ sites: null, station: 's1' });
    await a.followUp(s1!.id, 'op', '处理中', null);
    const before = a.list({ sites: null });
    expect(before.map((i) => [i.station, i.state])).toEqual([['s2', 'open'], ['s1', 'answered']]);
    await a.stop();
    const written = await lines();
    await appendFile(path.join(dir, 'risk', 'items.jsonl'), '{"t":"step","s":{"kind":"follow-');

    const b = items(null, 0);
    await b.start();
    expect(b.list({ sites: null })).toEqual(before);
    await b.stop();
    // one record per item and station after compaction
    expect(written).toBeGreaterThan(60);
    expect(await lines()).toBe(2 + 3);

    // a port now: the owed opening notices go out, once; recorded as `notified`
    const notify = new NotifyService({ ...RIG_OPTIONS, dir: path.join(dir, 'notify') }, { gateway: null, log: testLog });
    await notify.start();
    const c = items(notify);
    await c.start();
    await c.tick();
    const item = c.get(s1!.id)!;
    expect(item.events.map((e) => e.kind)).toEqual(['opened', 'assigned', 'code-changed', 'follow-up', 'notified']);
    expect(notify.byRef('risk-item', s1!.id).map((m) => [m.key, m.to.phone, m.state])).toEqual([[`risk-item:${s1!.id}:opened:h1`, '13800000001', 'queued']]);
    // s2 has nobody to tell: recorded as such
    expect(c.list({ sites: null, station: 's2' })[0]!.events.at(-1)).toMatchObject({ kind: 'notified', text: 'opened: nobody to notify' });
    await c.stop();
    const d = items(notify);
    await d.start();
    await d.tick();
    expect(d.get(s1!.id)!.events.filter((e) => e.kind === 'notified')).toHaveLength(1);
    expect(notify.byRef('risk-item', s1!.id)).toHaveLength(1);
    // s2 had nobody: once the directory names its head, the next check assigns and tells them
    const s2 = d.list({ sites: null, station: 's2' })[0]!;
    expect(s2.assignees).toEqual([]);
    expect((await contacts.replace({ people: [...contacts.list(), { id: 'h2', name: '二所所长', phone: '13800000002', roles: ['station_head'], stations: ['s2'], active: true }] })).ok).toBe(true);
    await d.tick();
    expect(d.get(s2.id)!.assignees).toEqual([{ id: 'h2', name: '二所所长' }]);
    expect(d.get(s2.id)!.events.slice(-2).map((e) => e.kind)).toEqual(['assigned', 'notified']);
    expect(notify.byRef('risk-item', s2.id).map((m) => m.to.phone)).toEqual(['13800000002']);
    await d.tick();
    expect(d.get(s2.id)!.events.filter((e) => e.kind === 'assigned')).toHaveLength(2);
    await d.stop();
    await notify.stop();
  });

  it('a process killed with SIGKILL during a burst of follow-ups keeps every one it answered', async () => {
    const kdir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-kill-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./items-child.ts', import.meta.url)), kdir], { stdio: ['pipe', 'pipe', 'inherit'] });
      const exited = new Promise((r) => child.once('exit', r));
      const answers: Array<{ ok: boolean; ids: string[]; text?: string }> = [];
      let ready!: () => void;
      const isReady = new Promise<void>((r) => (ready = r));
      const waiters: Array<() => void> = [];
      createInterface({ input: child.stdout! }).on('line', (l) => {
        if (l === 'ready') return ready();
        answers.push(JSON.parse(l));
        waiters.splice(0).forEach((w) => w());
      });
      const answered = (n: number) => new Promise<void>((r) => { const check = () => (answers.length >= n ? r() : waiters.push(check)); check(); });
      await isReady;
      child.stdin!.write(`${JSON.stringify({ op: 'days', days: [day('s1', 5, 'yellow'), day('s2', 5, 'red')] })}\n`);
      await answered(1);
      const [id1, id2] = answers[0]!.ids;
      // 200 follow-ups sent at once; killed as soon as 40 are answered
      for (let i = 0; i < 200; i++) child.stdin!.write(`${JSON.stringify({ op: 'follow-up', id: i % 2 ? id2 : id1, text: `f${i}` })}\n`);
      await answered(41);
      child.kill('SIGKILL');
      await exited;
      const acked = answers.slice(1).filter((a) => a.ok).map((a) => a.text!);
      expect(acked.length).toBeGreaterThanOrEqual(40);
      const kcontacts = new ContactDirectory({ dataDir: kdir });
      await kcontacts.start();
      const back = new RiskItems(options(kdir), { contacts: kcontacts, notifier: null, log: testLog });
      await back.start();
      const kept = [id1!, id2!].flatMap((id) => back.get(id)!.events.filter((e) => e.kind === 'follow-up').map((e) => e.text!));
      expect(kept.filter((t) => acked.includes(t)).sort()).toEqual([...acked].sort());
      expect(back.get(id1!)!.state).toBe('answered');
      await back.stop();
    } finally {
      await rm(kdir, { recursive: true, force: true });
    }
  }, 60_000);
});
