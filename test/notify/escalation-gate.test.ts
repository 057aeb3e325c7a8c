/**
 * Alarm escalation by SMS gated as in a cluster (only the center lease holder
 * sends): nothing is handed to the outbox while the gate is closed; on
 * opening it, an alarm seen due for longer than the hand-over time (the
 * previous holder sent it) is not sent again, one that fell due just before
 * is sent, once.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AlarmView } from '../../contract/index.ts';
import { ContactDirectory } from '../../server/notify/contacts.ts';
import { SmsEscalation } from '../../server/notify/escalation.ts';
import { NotifyService } from '../../server/notify/service.ts';
import { memoryLog } from '../support/logger.ts';
import { RIG_OPTIONS } from './support.ts';

const alarm = (id: string, since: number): AlarmView =>
  ({ alarmId: id, ruleId: 'r', source: 'east/m1', state: 'unack_active', active: true, activeSince: since, severity: 1, level: 'hi', message: 'over', detail: null, since, updatedAt: since, shelf: null, suppression: null, outOfService: null, severityName: 'critical', ruleName: '过压', site: 'east', room: '', transformer: '', line: '', acknowledged: null, escalatedAt: null }) as AlarmView;

describe('SMS escalation behind a gate', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('sends nothing while closed; on opening skips what the previous holder had time to send and sends the rest once', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-esc-gate-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const seed = path.join(dir, 'contacts.yaml');
    await writeFile(seed, "people:\n  - { id: p1, name: 值班, phone: '13800001111', roles: [on_call] }\n");
    const contacts = new ContactDirectory({ dataDir: dir, seedFile: seed });
    await contacts.start();
    const notify = new NotifyService({ ...RIG_OPTIONS, dir: path.join(dir, 'notify') }, { gateway: null, log: memoryLog('warn').log });
    await notify.start();
    cleanups.push(() => notify.stop());

    let now = 1_000_000_000;
    const alarms: AlarmView[] = [alarm('a1', now - 400_000)];
    const esc = new SmsEscalation(
      { roles: ['on_call'], afterS: { critical: 300, high: 0, medium: 0, low: 0 }, tickMs: 1000, lang: 'zh', tzOffsetMin: 480 },
      { alarms: { current: () => alarms, now: () => now }, contacts, notifier: notify, log: memoryLog('warn').log },
    );
    let holds = false;
    esc.gate(() => holds, 5000);
    const sent = () => notify.byRef('alarm', 'a1').length + notify.byRef('alarm', 'a2').length;

    // another server holds the lease: a1 is due, nothing goes out here
    await esc.tick();
    now += 6000;
    // a2 falls due just before the takeover
    alarms.push(alarm('a2', now - 300_500));
    await esc.tick();
    expect(sent()).toBe(0);

    // taken over: a1 was due here for 6 s (> 5 s) while the other sent it; a2 for less
    holds = true;
    now += 500;
    await esc.tick();
    expect(notify.byRef('alarm', 'a1')).toHaveLength(0);
    expect(notify.byRef('alarm', 'a2').map((m) => m.to.phone)).toEqual(['13800001111']);
    now += 1000;
    await esc.tick();
    expect(sent()).toBe(1);
  });
});
