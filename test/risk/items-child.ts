/**
 * A child process holding risk items on a directory, for the kill -9 test
 * (test/risk/items-journal.test.ts): reads one JSON command a line on stdin
 * (`{op: 'days', days}` or `{op: 'follow-up', id, text}`) and writes one JSON
 * answer a line once the command's promise resolved — the moment a REST
 * answer would go out.
 */
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { StationRiskDay } from '../../contract/risk.ts';
import { ContactDirectory } from '../../server/notify/contacts.ts';
import { RiskItems } from '../../server/risk/items/service.ts';
import { testLog } from '../support/logger.ts';

const dir = process.argv[2]!;
const contacts = new ContactDirectory({ dataDir: dir });
await contacts.start();
const items = new RiskItems(
  {
    dir: path.join(dir, 'risk'), tickMs: 3_600_000, compactAbove: 1_000_000, answerWithinHours: { yellow: 72, red: 24 },
    stationRoles: ['station_head'], onDutyRoles: ['on_call'], leaderRoles: ['leader'],
    notice: { lang: 'zh', tzOffsetMin: 480, dashboardUrl: 'http://127.0.0.1:8080/', stationName: (s) => s },
  },
  { contacts, notifier: null, log: testLog },
);
await items.start();
process.stdout.write('ready\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line) as { op: 'days'; days: StationRiskDay[] } | { op: 'follow-up'; id: string; text: string };
  const done = c.op === 'days' ? items.onComputed(c.days).then((opened) => opened.map((i) => i.id)) : items.followUp(c.id, 'op', c.text, null).then((i) => [i.id]);
  done.then(
    (ids) => process.stdout.write(`${JSON.stringify({ ok: true, ids, ...(c.op === 'follow-up' ? { text: c.text } : {}) })}\n`),
    (err: Error) => process.stdout.write(`${JSON.stringify({ ok: false, error: err.message })}\n`),
  );
});
