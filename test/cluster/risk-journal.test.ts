/**
 * The risk items' shared journal on a JetStream stream (a 3-node NATS cluster, the stream on one replica): two
 * RiskItems on it, only one of them active (the lease holder). A red day
 * given to both opens one item; follow-ups posted on both at once are each
 * applied exactly once and in one order on both (an append refused for a
 * stale sequence is decided again); a third RiskItems started later rebuilds
 * the same items from the stream.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import type { StationRiskDay } from '../../contract/risk.ts';
import { ContactDirectory } from '../../server/notify/contacts.ts';
import { StreamItemJournal } from '../../server/risk/cluster-journal.ts';
import { RiskItems, type RiskItemsOptions } from '../../server/risk/items/service.ts';
import { startNatsCluster } from '../harness/index.ts';
import { testLog } from '../support/logger.ts';
import { until } from '../support/until.ts';

const T0 = Date.UTC(2026, 10, 1, 22);
const red: StationRiskDay = {
  station: 's1', day: '2026-11-02', computedAt: T0 + 86_400_000, run: 'daily', window: { from: 0, to: 1 }, score: 80, coverage: 1,
  rawCode: 'red', code: 'red', driving: 'fault-outages', dimensions: { demand: null, handling: null, speed: null }, indicators: [],
};

describe('risk items on a shared stream', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('one item from the active server, concurrent follow-ups on both applied once each in one order, rebuilt by a newcomer', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-stream-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const contacts = new ContactDirectory({ dataDir: dir });
    await contacts.start();
    expect((await contacts.replace({ people: [{ id: 'h1', name: '一所所长', phone: '13800000001', roles: ['station_head'], stations: ['s1'] }] })).ok).toBe(true);
    const nats = await startNatsCluster();
    cleanups.push(() => nats.stop());
    const conns: NatsConnection[] = [];
    const options: RiskItemsOptions = {
      dir: path.join(dir, 'unused'), tickMs: 60_000, compactAbove: 10, answerWithinHours: { yellow: 72, red: 24 },
      stationRoles: ['station_head'], onDutyRoles: ['on_call'], leaderRoles: ['leader'],
      notice: { lang: 'zh', tzOffsetMin: 480, dashboardUrl: 'http://127.0.0.1:8080/', stationName: (s) => s },
    };
    const make = async (active: boolean) => {
      const nc = await connect({ servers: nats.natsUrls });
      conns.push(nc);
      cleanups.push(() => nc.close());
      const journal = new StreamItemJournal(nc.jetstream(), await nc.jetstreamManager(), 'gwtest_riskitems', 1);
      const items = new RiskItems(options, { contacts, notifier: null, log: testLog, now: () => T0 + 2 * 86_400_000, journal });
      items.setActive(() => active);
      await items.start();
      cleanups.push(() => items.stop());
      return items;
    };
    const holder = await make(true);
    const other = await make(false);

    expect(await other.onComputed([red])).toEqual([]);
    const opened = await holder.onComputed([red]);
    expect(opened.map((i) => i.station)).toEqual(['s1']);
    const id = opened[0]!.id;
    await until(() => (other.get(id) ? [] : ['not on the other']), 10_000, 'the item read by the other');

    // 10 follow-ups on each at once: every one applied once, in the same order on both
    const texts = Array.from({ length: 10 }, (_, i) => [`holder ${i}`, `other ${i}`]).flat();
    await Promise.all(texts.map((t) => (t.startsWith('holder') ? holder : other).followUp(id, 'u', t, null)));
    const order = (it: RiskItems) => it.get(id)!.events.filter((e) => e.kind === 'follow-up').map((e) => e.text);
    await until(() => (order(holder).length === 20 && order(other).length === 20 ? [] : [`${order(holder).length} / ${order(other).length}`]), 10_000, 'every follow-up on both');
    expect([...order(holder)].sort()).toEqual([...texts].sort());
    expect(order(other)).toEqual(order(holder));

    const late = await make(false);
    expect(late.list({ sites: null }).map((i) => i.id)).toEqual([id]);
    expect(order(late)).toEqual(order(holder));
    expect(conns.length).toBe(3);
  }, 60_000);
});
