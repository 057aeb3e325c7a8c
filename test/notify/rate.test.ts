/** The dispatcher never asks the gateway faster than notify.ratePerS (token bucket, at most one second's worth at once). */
import { afterAll, expect, it } from 'vitest';
import { notices, notifyRig, until, type NotifyRig } from './support.ts';

let rig: NotifyRig | undefined;
afterAll(async () => rig?.close());

it('keeps to the configured rate towards the gateway', async () => {
  const RATE = 25;
  rig = await notifyRig({ failRate: 0, receiptDelayMs: [100, 200] }, { ratePerS: RATE, concurrency: 64 });
  await rig.service.enqueue(notices(100, 'R'));
  await until(() => rig!.gateway.stats().sent === 100, 60_000, 'all sent', 100);
  const t = rig.gateway.sendTimes;
  // any one-second window holds at most the bucket (RATE) plus what it refills in that second (RATE); a slow machine only spreads them more
  let worst = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= 1000) j++;
    worst = Math.max(worst, i - j + 1);
  }
  expect(worst).toBeLessThanOrEqual(2 * RATE);
  // and the whole batch took at least (100 - burst) / rate seconds
  expect(t.at(-1)! - t[0]!).toBeGreaterThanOrEqual(((100 - RATE) / RATE) * 1000 - 100);
});
