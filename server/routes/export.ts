/**
 * CSV downloads (docs/api.md, Export): history, the alarm list and the
 * alarm journal, with the query parameters and roles of their JSON routes
 * and the same station scopes. Bodies are streamed: history is read from
 * the store in windows of bounded size and written row by row, the journal
 * page by page; nothing holds the whole file.
 *
 * `lang=zh` gives Chinese column headers (English otherwise); `tz` (`Z`,
 * `+08:00`, default +08:00) is the zone of the ISO 8601 timestamps and of
 * day buckets.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Quantity } from '../../contract/index.ts';
import { GridwatchError } from '../errors.ts';
import { siteVisible, sitesOf, type StationIndex } from '../scope.ts';
import type { Aggregate, TelemetryStore } from '../store/types.ts';
import type { AlarmService } from '../alarms/service.ts';
import type { JournalEntry, JournalEntryKind } from '../alarms/journal.ts';
import { ALARM_LIST_PROPERTIES, alarmFilterOf, time } from '../alarms/routes.ts';
import { HISTORY_QUERY_PROPERTIES, TZ_SCHEMA, historySelection } from './history-query.ts';
import { CSV_BOM, CSV_CONTENT_TYPE, csvRow, isoInZone, tzMinutes, type CsvValue } from '../csv.ts';

export interface ExportRoutesOptions {
  store: TelemetryStore;
  alarms?: AlarmService;
  stations: StationIndex;
  /** the site of a device: the topology's, else that of its latest reading */
  siteOfDevice: (device: string) => string | undefined;
}

const DEFAULT_TZ = '+08:00';
/** the longest window one history export covers */
const MAX_WINDOW_MS = 366 * 86_400_000;
/** about this many points are read from the store at a time */
const POINTS_PER_READ = 20_000;
const JOURNAL_PAGE = 2_000;

const LANG = { type: 'string', enum: ['zh', 'en'] } as const;
const TIME = { type: 'string', minLength: 1, maxLength: 64 } as const;

type Lang = 'zh' | 'en';
const HEADERS = {
  history: { en: ['time', 'site', 'device'], zh: ['时间', '站点', '设备'] },
  alarms: {
    en: ['alarm id', 'rule', 'rule name', 'source', 'state', 'severity', 'active', 'site', 'room', 'transformer', 'line', 'level', 'message', 'since', 'last change', 'acknowledged by', 'acknowledged at', 'shelved until', 'reason'],
    zh: ['告警编号', '规则', '规则名称', '来源', '状态', '级别', '条件存在', '站点', '配电室', '变压器', '线路', '限值等级', '描述', '起始时间', '最近变化', '确认人', '确认时间', '搁置至', '原因'],
  },
  journal: {
    en: ['seq', 'kind', 'time', 'alarm id', 'rule', 'source', 'from', 'to', 'reason', 'by', 'comment', 'severity', 'level', 'message', 'detail'],
    zh: ['序号', '类型', '时间', '告警编号', '规则', '来源', '原状态', '新状态', '原因', '操作人', '备注', '级别', '限值等级', '描述', '详情'],
  },
} as const;


function sendCsv(reply: FastifyReply, name: string, rows: AsyncIterable<string>): FastifyReply {
  async function* body(): AsyncGenerator<string> {
    yield CSV_BOM;
    yield* rows;
  }
  return reply
    .type(CSV_CONTENT_TYPE)
    .header('content-disposition', `attachment; filename="${name}.csv"`)
    .header('cache-control', 'no-store')
    .send(Readable.from(body(), { objectMode: false, highWaterMark: 64 * 1024 }));
}

/** Buffers rows into ~64 KB strings: one write per block rather than per row. */
async function* blocks(rows: AsyncIterable<string> | Iterable<string>): AsyncGenerator<string> {
  let buf = '';
  for await (const r of rows) {
    buf += r;
    if (buf.length >= 64 * 1024) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

export async function exportRoutes(app: FastifyInstance, opts: ExportRoutesOptions): Promise<void> {
  const { store, stations } = opts;

  // ---------------------------------------------------------------- history

  app.get<{ Querystring: { device?: string; line?: string; transformer?: string; quantity: string; from: string; to?: string; step?: number; aggregate?: Aggregate; tz?: string; lang?: Lang } }>(
    '/api/history.csv',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['quantity', 'from'],
          properties: { ...HISTORY_QUERY_PROPERTIES, lang: LANG },
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const { devices, quantities, from, to } = historySelection(q, req.session, stations, opts.siteOfDevice, Date.now());
      if (to - from > MAX_WINDOW_MS) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'an export covers at most 366 days; split the window');
      const tz = q.tz ?? DEFAULT_TZ;
      const offsetMs = tzMinutes(tz) * 60_000;
      const step = q.step ?? 0; // raw unless a step is given: the export is streamed, not bounded to a chart's points
      const aggregate = q.aggregate ?? 'mean';
      // windows of about POINTS_PER_READ points (readings at most 1 Hz when raw), on bucket boundaries
      const unit = step || 1000;
      const span = unit * Math.max(1, Math.floor(POINTS_PER_READ / (devices.length * quantities.length)));
      const siteOf = (d: string) => opts.siteOfDevice(d) ?? '';

      async function* rows(): AsyncGenerator<string> {
        yield csvRow([...HEADERS.history[q.lang ?? 'en'], ...quantities]);
        let start = from;
        while (start < to) {
          // the next boundary: a multiple of the step in the zone (buckets are never split between reads)
          let end = Math.min(to, start + span);
          if (step && end < to) end = Math.min(to, Math.ceil((end + offsetMs) / step) * step - offsetMs);
          const series = await store.history({ devices, quantities: quantities as Quantity[], from: start, to: end, stepMs: step, utcOffsetMs: offsetMs, aggregate });
          for (const device of devices) {
            const byTs = new Map<number, (number | null)[]>();
            for (const s of series) {
              if (s.device !== device) continue;
              const col = quantities.indexOf(s.quantity);
              for (let i = 0; i < s.ts.length; i++) {
                let row = byTs.get(s.ts[i]!);
                if (!row) byTs.set(s.ts[i]!, (row = new Array<number | null>(quantities.length).fill(null)));
                row[col] = s.values[i] ?? null;
              }
            }
            const site = siteOf(device);
            let out = '';
            for (const t of [...byTs.keys()].sort((a, b) => a - b)) out += csvRow([isoInZone(t, tz), site, device, ...byTs.get(t)!]);
            if (out) yield out;
          }
          start = end;
        }
      }
      return sendCsv(reply, `history-${devices.length === 1 ? devices[0]!.replace(/[^\w.-]/g, '_') : 'devices'}`, blocks(rows()));
    },
  );

  const svc = opts.alarms;
  if (!svc) return;

  // ---------------------------------------------------------------- alarms

  /** The site of an alarm: the alarm's own, else its source's; undefined when unknown. */
  const siteOfAlarm = (alarmId: string): string | undefined => {
    try {
      return svc.get(alarmId).site;
    } catch {
      return stations.siteOfSource(alarmId.slice(alarmId.indexOf(':') + 1));
    }
  };

  app.get<{ Querystring: { state?: string; severity?: string; site?: string; rule?: string; source?: string; active?: boolean; from?: string; to?: string; limit?: number; tz?: string; lang?: Lang } }>(
    '/api/alarms.csv',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...ALARM_LIST_PROPERTIES, tz: TZ_SCHEMA, lang: LANG },
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const f = alarmFilterOf(q, req.session);
      const tz = q.tz ?? DEFAULT_TZ;
      const { alarms } = svc.list(f);
      function* rows(): Generator<string> {
        yield csvRow(HEADERS.alarms[q.lang ?? 'en']);
        for (const a of alarms) {
          const reason = a.shelf?.reason ?? a.outOfService?.reason ?? a.suppression?.reason ?? a.acknowledged?.comment ?? null;
          yield csvRow([a.alarmId, a.ruleId, a.ruleName, a.source, a.state, a.severityName, a.active, a.site, a.room, a.transformer, a.line, a.level, a.message,
            isoInZone(a.since, tz), isoInZone(a.updatedAt, tz), a.acknowledged?.by, isoInZone(a.acknowledged?.at, tz), isoInZone(a.shelf?.until, tz), reason]);
        }
      }
      return sendCsv(reply, 'alarms', blocks(rows()));
    },
  );

  // ---------------------------------------------------------------- the journal

  app.get<{ Querystring: { kind?: JournalEntryKind; from?: string; to?: string; afterSeq?: number; limit?: number; tz?: string; lang?: Lang } }>(
    '/api/alarm-events.csv',
    {
      config: { minRole: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            kind: { type: 'string', enum: ['transition', 'escalation', 'rules'] },
            from: TIME,
            to: TIME,
            afterSeq: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 10_000_000 },
            tz: TZ_SCHEMA,
            lang: LANG,
          },
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const from = time(q.from, 'from');
      const to = time(q.to, 'to');
      const tz = q.tz ?? DEFAULT_TZ;
      const limit = q.limit ?? Number.POSITIVE_INFINITY;
      const allowed = sitesOf(req.session);
      const sites = new Map<string, string | undefined>();
      // rules changes concern every station; other entries those of their alarm's
      const keep = (e: JournalEntry): boolean => {
        if (!allowed || e.kind === 'rules') return true;
        if (!sites.has(e.alarmId)) sites.set(e.alarmId, siteOfAlarm(e.alarmId));
        return siteVisible(allowed, sites.get(e.alarmId));
      };
      const row = (e: JournalEntry): CsvValue[] => {
        const at = isoInZone(e.at, tz);
        if (e.kind === 'transition')
          return [e.seq, e.kind, at, e.alarmId, e.ruleId, e.source, e.from, e.to, e.reason, e.by, e.comment, e.severity, e.level, e.message, e.detail ? JSON.stringify(e.detail) : null];
        if (e.kind === 'escalation')
          return [e.seq, e.kind, at, e.alarmId, e.ruleId, e.source, null, null, e.delivered ? 'delivered' : 'failed', null, e.error, e.severity, null, null,
            JSON.stringify({ target: e.target, attempts: e.attempts, status: e.status, since: e.since })];
        return [e.seq, e.kind, at, null, e.ruleId, null, null, null, null, e.by, e.comment, null, null, null, null];
      };
      async function* rows(): AsyncGenerator<string> {
        yield csvRow(HEADERS.journal[q.lang ?? 'en']);
        let afterSeq = q.afterSeq;
        let written = 0;
        for (;;) {
          const page = await svc!.journalEntries({
            ...(q.kind ? { kind: q.kind } : {}),
            ...(from !== undefined ? { from } : {}),
            ...(to !== undefined ? { to } : {}),
            ...(afterSeq !== undefined ? { afterSeq } : {}),
            limit: JOURNAL_PAGE,
          });
          for (const e of page) {
            if (written >= limit) return;
            if (!keep(e)) continue;
            written++;
            yield csvRow(row(e));
          }
          if (page.length < JOURNAL_PAGE) return;
          afterSeq = page[page.length - 1]!.seq;
        }
      }
      return sendCsv(reply, 'alarm-events', blocks(rows()));
    },
  );
}
