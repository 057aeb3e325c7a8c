/**
 * Outage-pool figures, printed (not asserted): a topology of 100,000
 * customers parsed and indexed, the same customers imported from CSV, the
 * affected customers of a feeder computed, and 10,000 notices composed,
 * recorded and handed to the (test) gateway over HTTP.
 *   npx tsx bench/notify.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import { CustomerIndex } from '../server/customers/index.ts';
import { parseCustomerCsv } from '../server/customers/import.ts';
import { HttpSmsGateway } from '../server/notify/http-gateway.ts';
import { NotifyService } from '../server/notify/service.ts';
import type { NotifyRequest } from '../server/notify/types.ts';
import { topologyFromYaml } from '../server/topology-file.ts';
import { TestSmsGateway } from '../test/support/sms-gateway.ts';
import { fmt, quantile } from './support.ts';

const CUSTOMERS = 100_000;
const FEEDERS = 20;
const TRANSFORMERS_PER_FEEDER = 25; // 500 transformers, 200 customers each
const NOTICES = 10_000;

function topologyDoc() {
  const feeders = Array.from({ length: FEEDERS }, (_, f) => ({ id: `F${f}`, name: `10kV 线路${f}` }));
  const transformers = feeders.flatMap((f, fi) =>
    Array.from({ length: TRANSFORMERS_PER_FEEDER }, (_, t) => ({ id: `T${fi}-${t}`, name: `台区${fi}-${t}`, ratedKva: 400, feeder: f.id, lines: [{ id: `L${fi}-${t}-1`, name: '1号出线' }, { id: `L${fi}-${t}-2`, name: '2号出线' }] })),
  );
  const customers = Array.from({ length: CUSTOMERS }, (_, i) => {
    const t = transformers[i % transformers.length]!;
    return { id: `C${i}`, name: `用户${i}`, site: 'b1', transformer: t.id, line: t.lines[i % 2]!.id, meter: `M${i}`, important: i % 500 === 0, contacts: [{ name: `联系人${i}`, phone: `139${String(i).padStart(8, '0')}` }] };
  });
  return { feeders, sites: [{ id: 'b1', name: '供电所', rooms: [{ id: 'r1', name: 'R1', transformers }] }], customers };
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, performance.now() - t0];
}

async function main() {
  const doc = topologyDoc();
  const yaml = stringify(doc);
  const [loaded, loadMs] = time(() => topologyFromYaml(yaml));
  const [idx, indexMs] = time(() => new CustomerIndex(loaded.topology));
  console.log(`topology of ${fmt(CUSTOMERS)} customers (${fmt(yaml.length / 1e6, 1)} MB YAML): parsed and validated ${fmt(loadMs)} ms, indexed ${fmt(indexMs)} ms`);

  const csv = ['户号,户名,供电所,台区,线路,表号,电话', ...doc.customers.map((c) => `${c.id},${c.name},b1,${c.transformer},${c.line},${c.meter},${c.contacts[0]!.phone}`)].join('\r\n');
  const noCustomers = { ...loaded.topology, customers: [] };
  const [parsed, csvMs] = time(() => parseCustomerCsv(Buffer.from(csv), noCustomers));
  const [, csvIndexMs] = time(() => new CustomerIndex(noCustomers, parsed.customers.map((c) => c.customer)));
  console.log(`CSV import of ${fmt(parsed.rows)} rows (${fmt(csv.length / 1e6, 1)} MB): parsed and checked ${fmt(csvMs)} ms (${parsed.rejected.length} rejected), indexed ${fmt(csvIndexMs)} ms`);

  const runs: number[] = [];
  let n = 0;
  for (let i = 0; i < 50; i++) {
    const [list, ms] = time(() => idx.customersUnder({ feeder: `F${i % FEEDERS}` }));
    n = list.length;
    runs.push(ms);
  }
  console.log(`affected customers of a feeder (${fmt(n)} customers, important first): median ${fmt(quantile(runs, 0.5), 2)} ms, p95 ${fmt(quantile(runs, 0.95), 2)} ms`);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-bench-notify-'));
  const secret = 'bench-secret-0123456789';
  const gateway = new TestSmsGateway({ secret, failRate: 0, delayMs: [1, 5], receiptDelayMs: [60_000, 60_000] });
  await gateway.start();
  const svc = new NotifyService(
    { dir, ratePerS: 10_000, concurrency: 64, maxAttempts: 5, retryBaseMs: 1000, retryMaxMs: 10_000, lang: 'zh', replyWindowMs: 86_400_000, retentionDays: 400 },
    { gateway: new HttpSmsGateway({ url: gateway.url, account: 'bench', secret, timeoutMs: 10_000, retryableCodes: [1002] }), log: pino({ level: 'silent' }) },
  );
  await svc.start();
  const affected = idx.customersUnder({ feeder: 'F0' }).slice(0, 0);
  void affected;
  const all = [...idx.all()].slice(0, NOTICES);
  const t0 = performance.now();
  const reqs: NotifyRequest[] = all.map((c) => ({
    key: `bench:${c.id}`, to: { phone: c.contacts[0]!.phone!, customer: c.id }, template: 'outage_planned',
    vars: { customer: c.name, reason: '线路检修', start: '12月8日 08:00', end: '12月8日 17:00', scope: '10kV 线路0', hotline: '95598' },
    purpose: 'outage_planned', ref: { kind: 'bench', id: 'B' },
  }));
  const r = await svc.enqueue(reqs);
  const enqMs = performance.now() - t0;
  while (svc.summary('bench', 'B').sent < NOTICES) await new Promise((res) => setTimeout(res, 20));
  const allMs = performance.now() - t0;
  console.log(`${fmt(NOTICES)} notices: composed and recorded (fsync) ${fmt(enqMs)} ms (${r.accepted.length} accepted); all handed to the gateway over HTTP and answered ${fmt(allMs)} ms (${fmt(NOTICES / (allMs / 1000))} msg/s, rate limit 10,000/s, 64 in flight); gateway counted ${gateway.stats().sent}`);
  await svc.stop();
  await gateway.stop();
  await rm(dir, { recursive: true, force: true });
  console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
