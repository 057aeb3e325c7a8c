/**
 * A server restart after a stop longer than the comm-loss window, under
 * load, does not flood comm-loss: the agents kept publishing into the
 * server's persistent MQTT session, and once the server is back they resend
 * their backlog marked late before their live readings (as the edge agent's
 * spool does). Those late readings prove the meters answer, so no meter
 * whose readings are arriving gets a comm-loss alarm. Every reading polled
 * is in the store once. Real child-process server, a private Mosquitto (the
 * server's presence topic is the agents' cue; other tests' servers must not
 * give it), the shared influxd.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { influxQuery } from '../harness/index.ts';
import { Feed } from './helpers.ts';
import { commLossRules, primeSession, privateSite, SpoolingAgent, storedPerDevice, until } from './faults-support.ts';

// the shape of the fault at a test's size; GW_TEST_FAULTS_* give a full-size run (e.g. 240 meters, 120 s, 10 s).
// The window is 5 s, not less: a server restarting on a machine that runs three test files at once
// took over 3 s to take in the queued readings, and called every meter silent meanwhile
const WINDOW_S = Number(process.env.GW_TEST_FAULTS_WINDOW_S ?? 5);
const STOP_S = Number(process.env.GW_TEST_FAULTS_STOP_S ?? 3 * WINDOW_S);
const RULES = commLossRules(WINDOW_S);
const N = Number(process.env.GW_TEST_FAULTS_METERS ?? 20);

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close().catch(() => undefined);
});

describe('restart after a stop longer than the comm-loss window', () => {
  it('no comm-loss alarm for meters whose readings arrive (late backlog first); nothing missing or doubled in the store', async () => {
    const site = 'al-rload';
    const { agent, db, meters, broker, server } = await privateSite({ site, name: 'Restart under load', meters: N, rulesYaml: RULES, influxUrl: inject('influxUrl') }, open);
    // the agent first: its readings flow when the server starts, so no meter is 'never seen'; queued for the server's session
    await primeSession(broker.url, `gw-${site}-${process.pid}`, site);
    const feed = await Feed.open(broker.url, site, agent);
    open.push(feed);
    // 4 polls a second; the backlog resent at one poll per 250 ms: about as long as the stop, well over the window
    const spool = new SpoolingAgent(feed, meters, { intervalMs: 250, resendMs: 250 });
    open.push(spool);
    await spool.start();
    await server.start();
    await new Promise((r) => setTimeout(r, 2 * WINDOW_S * 1000));
    expect(await server.alarms()).toEqual([]);

    await server.term();
    await new Promise((r) => setTimeout(r, STOP_S * 1000));
    await server.start();
    // the resend, then live readings, and a window more
    await until(async () => (spool.resent > 0 ? [] : ['no resend yet']), 30_000, 'the resend begun');
    await until(async () => (spool.resending ? ['resending'] : []), 60_000 + 2 * STOP_S * 1000, 'the resend over');
    // live readings again, and a window more
    await new Promise((r) => setTimeout(r, 2 * WINDOW_S * 1000));
    const alarms = await server.alarms();
    const commLoss = alarms.filter((a) => a.ruleId === 'comm-loss');
    expect(commLoss.map((a) => `${a.alarmId} ${a.state}`)).toEqual([]);
    // nor anything in the journal
    const raised = await influxQuery(inject('influxUrl'), db, `SELECT count("seq") FROM alarm_event WHERE "ruleId" = 'comm-loss' AND "reason" = 'raise'`);
    expect(Number(raised[0]?.series?.[0]?.values?.[0]?.[1] ?? 0)).toBe(0);
    // the resend lasted longer than the window: without counting late readings every meter would have been called silent
    expect(spool.resent * 0.25).toBeGreaterThan(WINDOW_S);

    await spool.close();
    const polls = spool.polled.size;
    await until(
      async () => {
        const per = await storedPerDevice(inject('influxUrl'), db);
        return meters.filter((m) => per.get(m) !== polls).map((m) => `${m}: ${per.get(m) ?? 0} stored of ${polls}`);
      },
      30_000,
      'every poll stored once',
    );
    console.log(`stop ${STOP_S} s (window ${WINDOW_S} s): ${spool.resent} polls of ${N} meters resent late; ${polls} polls per meter stored once each; comm-loss alarms: 0`);
  }, 180_000 + 3 * STOP_S * 1000);
});
