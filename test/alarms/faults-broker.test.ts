/**
 * A broker outage longer than the comm-loss window raises ONE alarm about
 * the broker (source `mqtt-broker`), not a comm-loss per meter: while the
 * server has no broker connection nobody can be heard, so nobody counts as
 * silent. Once the broker is back and readings flow, the broker alarm
 * clears and still no meter raises comm-loss. Real child-process server, a
 * private Mosquitto killed with SIGKILL and restarted on its port, the
 * shared influxd, an agent-shaped feed.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { influxQuery } from '../harness/index.ts';
import { Feed } from './helpers.ts';
import { commLossRules, privateSite, until } from './faults-support.ts';

const WINDOW_S = 3;
const RULES = commLossRules(WINDOW_S);
const N = 20;

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  // bounded: with the broker gone (a failed run) the feed's pending publish never settles
  const bounded = (p: Promise<void>) => Promise.race([p.catch(() => undefined), new Promise<void>((r) => setTimeout(r, 5000))]);
  while (open.length) await bounded(open.pop()!.close());
});

/** A private broker, a child-process server on it and a feed of N meters every 250 ms. */
async function rig(site: string) {
  const { agent, db, meters, broker, server } = await privateSite({ site, name: 'Broker outage', meters: N, rulesYaml: RULES, influxUrl: inject('influxUrl') }, open);
  // the feed first: its readings flow when the server starts, so no meter is 'never seen'
  const feed = await Feed.open(broker.url, site, agent);
  open.push(feed);
  let running = true;
  const pump = (async () => {
    while (running) {
      const ts = Date.now();
      // while the broker is away mqtt.js holds the message until it reconnects
      await feed.publish(meters.map((device) => ({ device, ts, v: { ua: 230, ub: 230, uc: 230, ia: 50 } })));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  open.push({ close: async () => void ((running = false), await pump) });
  await server.start();
  /** raises in the journal by alarm id */
  const raises = async () => {
    const res = await influxQuery(inject('influxUrl'), db, `SELECT count("seq") FROM alarm_event WHERE "reason" = 'raise' GROUP BY "alarmId"`);
    return Object.fromEntries((res[0]?.series ?? []).map((s) => [s.tags?.alarmId, Number(s.values[0]![1])]));
  };
  const brokerAlarmCleared = () =>
    until(
      async () => {
        const a = (await server.alarms()).find((x) => x.alarmId === 'comm-loss:mqtt-broker');
        return a && !a.active ? [] : [`broker alarm ${a ? `${a.state} active=${a.active}` : 'gone'}`];
      },
      30_000,
      'the broker alarm cleared',
    );
  return { broker, server, raises, brokerAlarmCleared };
}

describe('broker outage longer than the comm-loss window', () => {
  it('one broker alarm, no comm-loss per meter; it clears once the broker is back and readings flow', async () => {
    const { broker, server, raises, brokerAlarmCleared } = await rig('al-broker');
    await new Promise((r) => setTimeout(r, 2 * WINDOW_S * 1000));
    expect(await server.alarms()).toEqual([]);

    await broker.kill();
    // more than twice the window without a broker
    await new Promise((r) => setTimeout(r, 3 * WINDOW_S * 1000));
    const during = await server.alarms();
    expect(during.map((a) => `${a.alarmId} ${a.state} ${a.active}`)).toEqual([`comm-loss:mqtt-broker unack_active true`]);

    await broker.restart();
    await brokerAlarmCleared();
    // readings flow again, and more than a window passes: still no meter is called silent
    await new Promise((r) => setTimeout(r, 2 * WINDOW_S * 1000));
    const after = await server.alarms();
    expect(after.map((a) => `${a.alarmId} ${a.state} ${a.active}`)).toEqual([`comm-loss:mqtt-broker unack_rtn false`]);
    const byAlarm = await raises();
    expect(byAlarm).toEqual({ 'comm-loss:mqtt-broker': 1 });
    console.log(`broker down ${3 * WINDOW_S} s (window ${WINDOW_S} s), ${N} meters: raises in the journal ${JSON.stringify(byAlarm)}`);
  }, 180_000);

  it('the server killed during the outage: its broker alarm, rebuilt from the journal, clears on the first connection after the restart', async () => {
    const { broker, server, raises, brokerAlarmCleared } = await rig('al-broker2');
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    await broker.kill();
    await until(async () => ((await server.alarms()).some((a) => a.alarmId === 'comm-loss:mqtt-broker' && a.active) ? [] : ['no broker alarm']), 15_000, 'the broker alarm');
    // journaled (the store is up), then the server dies with the broker still away
    await new Promise((r) => setTimeout(r, 1000));
    await server.kill9();
    await broker.restart();
    await server.start();
    await brokerAlarmCleared();
    await new Promise((r) => setTimeout(r, 2 * WINDOW_S * 1000));
    expect((await server.alarms()).map((a) => `${a.alarmId} ${a.state} ${a.active}`)).toEqual([`comm-loss:mqtt-broker unack_rtn false`]);
    expect(await raises()).toEqual({ 'comm-loss:mqtt-broker': 1 });
  }, 180_000);
});
