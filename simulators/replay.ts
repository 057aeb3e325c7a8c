/**
 * Replay of a recorded feed straight to MQTT at N× speed, for fast tests of
 * everything downstream of the agents (ingest, store, rules, dashboard).
 *
 * Feed formats:
 * - JSONL: one JSON value per line, either a reading `{"device", "ts", "v",
 *   "q"?, "site"?, "agent"?}` or a whole readings message `{"agent",
 *   "readings": [...]}` (what an agent published; `site` comes from the options).
 * - CSV: a header row naming the columns: `ts` and `device` are required,
 *   `site`, `agent` and `q` optional, every other column a canonical quantity;
 *   an empty cell is an absent value. `ts` is epoch ms or an ISO 8601 time.
 * Lines that are not valid readings are skipped and reported with their line
 * number; the rest is replayed.
 *
 * Timing: a reading recorded Δ after the first is published Δ/speed after
 * the start. Its timestamp keeps the recorded spacing (a 2 h overload stays
 * 2 h long for the rules), shifted so the first reading is "now" (`rebase`,
 * the default) or left as recorded. Each agent's readings are numbered from
 * `seqStart` (default now × 1000, like an agent) and batched per agent within
 * `batchMs` of replay time, one message per batch, QoS 1.
 */
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { isQuantity, readingsTopic, validateReading, type ContractError, type Quality, type Reading, type ReadingsMessage, type Values } from '../contract/index.ts';

export interface FeedRecord {
  site?: string;
  agent?: string;
  device: string;
  /** epoch ms as recorded */
  ts: number;
  v: Values;
  q: Quality;
}

export interface ParsedFeed {
  records: FeedRecord[];
  /** `line N: reason` for every line skipped */
  errors: string[];
}

export type FeedFormat = 'jsonl' | 'csv';

function checkReading(x: Record<string, unknown>, where: string, errors: string[]): FeedRecord | null {
  const errs: ContractError[] = [];
  const r = validateReading({ device: x.device, ts: x.ts, seq: 0, v: x.v ?? {}, q: x.q ?? 'good' }, where, errs);
  if (!r) {
    errors.push(`${where}: ${errs.map((e) => `${e.path.slice(where.length + 1) || '(reading)'} ${e.message}`).join('; ')}`);
    return null;
  }
  const out: FeedRecord = { device: r.device, ts: r.ts, v: r.v, q: r.q };
  if (typeof x.site === 'string') out.site = x.site;
  if (typeof x.agent === 'string') out.agent = x.agent;
  return out;
}

function parseTs(raw: string): number {
  const n = Number(raw);
  if (raw.trim() !== '' && Number.isFinite(n)) return n;
  const t = Date.parse(raw);
  return Number.isNaN(t) ? Number.NaN : t;
}

/** Splits one CSV line (RFC 4180 quoting). */
function csvCells(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

export function parseFeed(text: string, format: FeedFormat): ParsedFeed {
  const records: FeedRecord[] = [];
  const errors: string[] = [];
  const lines = text.split(/\r?\n/);
  if (format === 'jsonl') {
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      const where = `line ${i + 1}`;
      let x: unknown;
      try {
        x = JSON.parse(line);
      } catch {
        errors.push(`${where}: not JSON`);
        return;
      }
      if (typeof x !== 'object' || x === null || Array.isArray(x)) {
        errors.push(`${where}: not a JSON object`);
        return;
      }
      const o = x as Record<string, unknown>;
      if (Array.isArray(o.readings)) {
        o.readings.forEach((r, j) => {
          if (typeof r !== 'object' || r === null) errors.push(`${where}.readings[${j}]: not an object`);
          else {
            const rec = checkReading({ ...(r as Record<string, unknown>), agent: o.agent }, `${where}.readings[${j}]`, errors);
            if (rec) records.push(rec);
          }
        });
        return;
      }
      const rec = checkReading(o, where, errors);
      if (rec) records.push(rec);
    });
    return { records, errors };
  }
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) return { records, errors: ['no header row'] };
  const header = csvCells(lines[headerAt]!);
  const col = (name: string) => header.indexOf(name);
  if (col('ts') < 0 || col('device') < 0) return { records, errors: [`line ${headerAt + 1}: the header needs ts and device columns`] };
  const known = new Set(['ts', 'device', 'site', 'agent', 'q']);
  const quantities: { name: string; at: number }[] = [];
  header.forEach((h, i) => {
    if (known.has(h)) return;
    if (isQuantity(h)) quantities.push({ name: h, at: i });
    else errors.push(`line ${headerAt + 1}: column "${h}" is not a canonical quantity; ignored`);
  });
  for (let i = headerAt + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const cells = csvCells(line);
    const v: Record<string, unknown> = {};
    let bad = '';
    for (const q of quantities) {
      const cell = cells[q.at] ?? '';
      if (cell === '') continue;
      const n = Number(cell);
      if (!Number.isFinite(n)) bad = `${q.name} "${cell}" is not a number`;
      v[q.name] = n;
    }
    const where = `line ${i + 1}`;
    if (bad) {
      errors.push(`${where}: ${bad}`);
      continue;
    }
    const q = col('q') >= 0 && cells[col('q')] ? cells[col('q')] : 'good';
    const rec = checkReading(
      {
        device: cells[col('device')],
        ts: parseTs(cells[col('ts')] ?? ''),
        v,
        q,
        ...(col('site') >= 0 && cells[col('site')] ? { site: cells[col('site')] } : {}),
        ...(col('agent') >= 0 && cells[col('agent')] ? { agent: cells[col('agent')] } : {}),
      },
      where,
      errors,
    );
    if (rec) records.push(rec);
  }
  return { records, errors };
}

export interface ReplayOptions {
  mqttUrl: string;
  /** 1 = real time; 10 = ten times faster */
  speed: number;
  /** for records without a site / agent */
  site?: string;
  agent?: string;
  /** shift timestamps so the first reading is at the start (default true) */
  rebase?: boolean;
  /** first seq of every agent; default clock() × 1000 */
  seqStart?: number;
  /** readings of one agent due within this much replay time go in one message, ms; default 50 */
  batchMs?: number;
  clock?: () => number;
  /** default: the user name when one is given (a broker with agent credentials wants the agent id), else a random one */
  clientId?: string;
  /** broker credentials: an agent's id and password; such a broker takes only that agent's readings */
  username?: string;
  password?: string;
  log?: Logger;
}

export interface ReplayResult {
  readings: number;
  messages: number;
  /** wall time the replay took, ms */
  durationMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function replayFeed(records: readonly FeedRecord[], opts: ReplayOptions): Promise<ReplayResult> {
  if (!(opts.speed > 0)) throw new RangeError(`speed must be > 0, got ${opts.speed}`);
  const clock = opts.clock ?? Date.now;
  const sorted = [...records].sort((a, b) => a.ts - b.ts);
  for (const r of sorted) {
    if (!(r.site ?? opts.site) || !(r.agent ?? opts.agent)) throw new RangeError(`reading of ${r.device} at ${r.ts} has no site or agent, and none is given`);
  }
  const client = await mqtt.connectAsync(opts.mqttUrl, {
    clientId: opts.clientId ?? opts.username ?? `gridwatch-replay-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    reconnectPeriod: 1000,
  });
  const start = clock();
  const t0 = sorted[0]?.ts ?? 0;
  const seqStart = opts.seqStart ?? Math.floor(start) * 1000;
  const seq = new Map<string, number>();
  const batchMs = opts.batchMs ?? 50;
  let messages = 0;
  const pending: Promise<unknown>[] = [];
  try {
    let i = 0;
    while (i < sorted.length) {
      const due = start + (sorted[i]!.ts - t0) / opts.speed;
      const wait = due - clock();
      if (wait > 0) await sleep(wait);
      // everything due within batchMs from here, per site/agent
      const groups = new Map<string, { site: string; agent: string; readings: Reading[] }>();
      while (i < sorted.length && start + (sorted[i]!.ts - t0) / opts.speed <= due + batchMs) {
        const r = sorted[i++]!;
        const site = r.site ?? opts.site!;
        const agent = r.agent ?? opts.agent!;
        const key = `${site}\u0000${agent}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { site, agent, readings: [] }));
        const n = seq.get(agent) ?? seqStart;
        seq.set(agent, n + 1);
        g.readings.push({ device: r.device, ts: opts.rebase === false ? r.ts : start + (r.ts - t0), seq: n, v: r.v, q: r.q });
      }
      for (const g of groups.values()) {
        for (let k = 0; k < g.readings.length; k += 5000) {
          const msg: ReadingsMessage = { agent: g.agent, readings: g.readings.slice(k, k + 5000) };
          pending.push(client.publishAsync(readingsTopic(g.site, g.agent), JSON.stringify(msg), { qos: 1 }));
          messages++;
        }
      }
    }
    await Promise.all(pending);
  } finally {
    await client.endAsync();
  }
  const result = { readings: sorted.length, messages, durationMs: clock() - start };
  opts.log?.info(result, 'replay finished');
  return result;
}
