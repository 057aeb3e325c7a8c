/** The contact directory (file + REST, routing by role and station) and alarm escalation messages built from it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlarmView } from '../../contract/index.ts';
import { ContactDirectory } from '../../server/notify/contacts.ts';
import { escalationNotices } from '../../server/notify/escalation.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const PEOPLE = {
  people: [
    { id: 'p1', name: '值班长', phone: '13800001111', roles: ['on_call', 'dispatcher'] },
    { id: 'p2', name: '东区所长', phone: '138-0000-2222', roles: ['station_head', 'on_call'], stations: ['east'] },
    { id: 'p3', name: '西区所长', phone: '13800003333', roles: ['on_call'], stations: ['west'] },
    { id: 'p4', name: '休假', phone: '13800004444', roles: ['on_call'], active: false },
  ],
};

describe('contact directory', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({});
  });
  afterAll(async () => ts?.close());

  it('is replaced whole over REST, kept on disk, and refuses an invalid document with every problem', async () => {
    const put = (body: unknown, role?: 'operator') =>
      ts.fetch('/api/contacts', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(role ? { role } : {}) });
    expect((await put(PEOPLE)).status).toBe(200);
    expect((await put(PEOPLE, 'operator')).status).toBe(403);
    const bad = await put({ people: [...PEOPLE.people, { id: 'p1', name: 'x', phone: 'none', roles: [] }] });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string }; errors: string[] };
    expect(body.error.code).toBe('GW_ERR_CONTACTS_INVALID');
    expect(body.errors).toEqual(expect.arrayContaining([expect.stringMatching(/^people\[4\]\.phone: must be a phone number/), expect.stringMatching(/^people\[4\]\.roles: /)]));
    const list = (await (await ts.fetch('/api/contacts', { role: 'operator' })).json()) as { people: Array<{ id: string; phone: string }> };
    expect(list.people.map((p) => p.id)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(list.people[1]!.phone).toBe('13800002222');
    // read back from its file by a new directory on the same data dir
    const again = new ContactDirectory({ dataDir: ts.dataDir });
    await again.start();
    expect(again.list()).toHaveLength(4);
    const routed = (await (await ts.fetch('/api/contacts/route?role=on_call&site=east', { role: 'operator' })).json()) as { people: Array<{ id: string }> };
    expect(routed.people.map((p) => p.id)).toEqual(['p1', 'p2']);
  });

  it('builds one escalation message per due alarm and person of its station, with a key that makes it once per annunciation', async () => {
    const dir = new ContactDirectory({ dataDir: ts.dataDir });
    await dir.start();
    const alarm = (id: string, site: string, severityName: 'critical' | 'high', severity: 1 | 2, since: number): AlarmView =>
      ({ alarmId: id, ruleId: 'r', source: `${site}/m1`, state: 'unack_active', active: true, activeSince: since, severity, level: 'hi', message: 'over', detail: null, since, updatedAt: since, shelf: null, suppression: null, outOfService: null, severityName, ruleName: '过压', site, room: '', transformer: '', line: '', acknowledged: null, escalatedAt: null }) as AlarmView;
    const now = 1_000_000_000;
    const alarms = [alarm('a1', 'east', 'critical', 1, now - 400_000), alarm('a2', 'west', 'high', 2, now - 400_000), alarm('a3', 'east', 'critical', 1, now - 10_000)];
    const out = escalationNotices(alarms, now, { roles: ['on_call'], afterS: { critical: 300, high: 900, medium: 3600, low: 0 }, tickMs: 1000, lang: 'zh', tzOffsetMin: 480 }, dir);
    // a2 is not due yet (high: 900 s), a3 neither (10 s); a1 goes to the center and the east head, not west, not the inactive one
    expect(out.map((m) => m.key)).toEqual([`alarm:${now - 400_000}:p1:a1`, `alarm:${now - 400_000}:p2:a1`]);
    expect(out[0]).toMatchObject({ template: 'alarm_escalation', purpose: 'alarm_escalation', ref: { kind: 'alarm', id: 'a1' }, vars: { severity: '紧急', title: '过压', site: 'east', minutes: 6 } });
  });
});
