/**
 * The notification service against the test gateway over real HTTP: every
 * message ends delivered or failed after its retries, none is sent twice,
 * duplicate keys are not sent again, receipts and replies are signed and
 * idempotent, state survives a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders } from '../../server/notify/sign.ts';
import { notices, notifyRig, until, SECRET, type NotifyRig } from './support.ts';

describe('notification service', () => {
  let rig: NotifyRig;
  beforeAll(async () => {
    rig = await notifyRig({ failRate: 0.05, duplicateReceiptRate: 0.3, seed: 11, undeliverable: (p) => p.endsWith('0013') });
  });
  afterAll(async () => rig?.close());

  it('delivers a batch through 5 % gateway failures, sending each message once', async () => {
    const r = await rig.service.enqueue(notices(600));
    expect(r.accepted).toHaveLength(600);
    expect(r.rejected).toEqual([]);
    const s = () => rig.service.summary('plan', 'P1');
    await until(() => s().delivered + s().failed === 600 && rig.gateway.stats().pendingReceipts === 0, 45_000, 'all final');
    const st = rig.gateway.stats();
    expect(st.http503 + st.busy).toBeGreaterThan(0);
    expect(st.duplicateSends).toBe(0);
    expect(st.sent).toBe(600);
    expect(st.receiptsPosted).toBeGreaterThan(600); // some twice
    // the one undeliverable number is failed by its receipt; every other message delivered
    const failed = rig.service.byRef('plan', 'P1').filter((m) => m.state === 'failed');
    expect(failed.map((m) => m.to.phone)).toEqual(['13910000013']);
    expect(failed[0]!.error).toMatch(/UNDELIV/);
    const retried = rig.service.byRef('plan', 'P1').filter((m) => m.attempts > 1);
    expect(retried.length).toBeGreaterThan(0);
    expect(rig.service.byRef('plan', 'P1')[0]!.text).toBe('【停电通知】尊敬的用户0：因线路检修，计划于12月8日 08:00至12月8日 17:00对10kV 东一线停电。请提前做好准备，咨询请拨95598。回复1确认收到。');
  });

  it('never sends a known key again, within a batch or across calls', async () => {
    const before = rig.gateway.stats().requests;
    const again = await rig.service.enqueue([...notices(3), ...notices(1, 'P2'), ...notices(1, 'P2')]);
    expect(again.accepted.map((m) => m.key)).toEqual(['plan:P2:0']);
    expect(again.duplicates.map((m) => m.key)).toEqual(['plan:P1:0', 'plan:P1:1', 'plan:P1:2', 'plan:P2:0']);
    await until(() => rig.service.byKey('plan:P2:0')?.state === 'delivered', 20_000, 'P2 delivered');
    expect(rig.gateway.stats().requests - before).toBeGreaterThanOrEqual(1);
    expect(rig.gateway.stats().duplicateSends).toBe(0);
  });

  it('refuses bad requests with a reason and records nothing for them', async () => {
    const bad = notices(4, 'P3');
    bad[0]!.to.phone = 'not a phone';
    bad[1]!.template = 'nope';
    delete (bad[2]!.vars as Record<string, unknown>).hotline;
    const r = await rig.service.enqueue(bad);
    expect(r.rejected.map((x) => [x.index, x.reason])).toEqual([
      [0, 'to.phone must be a phone number'],
      [1, 'unknown template "nope"'],
      [2, 'template "outage_planned" needs {hotline}'],
    ]);
    expect(r.accepted).toHaveLength(1);
    expect(rig.service.byKey('plan:P3:0')).toBeUndefined();
  });

  it('refuses forged, unsigned and stale callbacks with 401 and changes nothing', async () => {
    const m = rig.service.byKey('plan:P1:13')!;
    expect(m.state).toBe('failed');
    const body = JSON.stringify({ receipts: [{ msgId: m.gatewayId, status: 'delivered' }] });
    const post = (headers: Record<string, string>) =>
      fetch(`${rig.url}/api/notify/receipts`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post({})).status).toBe(401);
    expect((await post(signedHeaders('wrong-secret', body))).status).toBe(401);
    const h = signedHeaders(SECRET, body);
    expect((await post({ ...h, 'x-gw-signature': h['x-gw-signature']!.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) })).status).toBe(401);
    expect((await post(signedHeaders(SECRET, body, Date.now() - 3_600_000))).status).toBe(401);
    // signed for another body
    expect((await post(signedHeaders(SECRET, body.replace('delivered', 'failed')))).status).toBe(401);
    expect(rig.service.byKey('plan:P1:13')!.state).toBe('failed');
    // a correctly signed malformed body is a 400, also changing nothing
    const badBody = JSON.stringify({ receipts: [{ status: 'delivered' }] });
    const res = await fetch(`${rig.url}/api/notify/receipts`, { method: 'POST', headers: { 'content-type': 'application/json', ...signedHeaders(SECRET, badBody) }, body: badBody });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/receipts\[0\]: needs msgId or clientMsgId/);
  });

  it('keeps a receipt that comes before its message is known and applies it later; duplicates change nothing', async () => {
    const post = async (doc: unknown) => {
      const body = JSON.stringify(doc);
      const res = await fetch(`${rig.url}/api/notify/receipts`, { method: 'POST', headers: { 'content-type': 'application/json', ...signedHeaders(SECRET, body) }, body });
      return (await res.json()) as Record<string, number>;
    };
    await until(() => { const st = rig.service.status(); return st.ready + st.delayed + st.resolving + st.inflight === 0; }, 20_000, 'quiet');
    // the gateway will call the next message it accepts G<n+1>
    const next = `G${rig.gateway.stats().sent + 1}`;
    expect(await post({ receipts: [{ msgId: next, status: 'delivered', at: 1_000 }] })).toMatchObject({ kept: 1 });
    expect(await post({ receipts: [{ msgId: next, status: 'delivered', at: 1_000 }] })).toMatchObject({ duplicate: 1 });
    await rig.service.enqueue(notices(1, 'P4'));
    await until(() => rig.service.byKey('plan:P4:0')?.gatewayId === next, 20_000, 'P4 sent');
    const m = rig.service.byKey('plan:P4:0')!;
    expect(m.state).toBe('delivered');
    expect(m.deliveredAt).toBe(1_000);
    expect(rig.service.status().orphans).toBe(0);
  });

  it('counts a reply as read, by message id or by the latest message to the phone', async () => {
    const a = rig.service.byKey('plan:P1:20')!;
    const b = rig.service.byKey('plan:P1:21')!;
    expect(await rig.gateway.reply({ phone: a.to.phone, msgId: a.gatewayId! }, '1')).toBe(200);
    expect(await rig.gateway.reply({ phone: b.to.phone }, '收到')).toBe(200);
    await until(() => a.state === 'read' && b.state === 'read', 10_000, 'read');
    expect(b.reply).toBe('收到');
    expect(rig.service.summary('plan', 'P1').read).toBe(2);
  });

  it('rebuilds every state from its journal after a restart', async () => {
    const before = new Map(rig.service.byRef('plan', 'P1').map((m) => [m.key, m.state]));
    await rig.restart();
    const after = new Map(rig.service.byRef('plan', 'P1').map((m) => [m.key, m.state]));
    expect(after).toEqual(before);
    expect(rig.service.byKey('plan:P1:21')?.reply).toBe('收到');
    const again = await rig.service.enqueue(notices(2));
    expect(again.accepted).toHaveLength(0);
  });
});
