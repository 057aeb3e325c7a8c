/**
 * The part the history routes share (`/api/history`, `/api/history.csv`):
 * comma lists, times, and which meters and quantities a query names — its
 * devices, plus the meters of the lines and transformers it names, in the
 * stations the session may see. A device, line or transformer outside them is
 * answered as one that does not exist (404).
 */
import { isQuantity, type Quantity } from '../../contract/index.ts';
import { GridwatchError } from '../errors.ts';
import { siteVisible, sitesOf, type StationIndex } from '../scope.ts';

/** A zone offset as the history routes take it: `Z` or `±hh:mm`. */
export const TZ_SCHEMA = { type: 'string', pattern: '^(Z|[+-](0\\d|1[0-4]):[0-5]\\d)$' } as const;

/** The querystring properties of the history routes (JSON and CSV). */
export const HISTORY_QUERY_PROPERTIES = {
  device: { type: 'string', minLength: 1, maxLength: 65536 },
  line: { type: 'string', minLength: 1, maxLength: 65536 },
  transformer: { type: 'string', minLength: 1, maxLength: 65536 },
  quantity: { type: 'string', minLength: 1, maxLength: 1024 },
  from: { type: 'string', minLength: 1, maxLength: 64 },
  to: { type: 'string', minLength: 1, maxLength: 64 },
  step: { type: 'integer', minimum: 0, maximum: 31 * 86_400_000 },
  aggregate: { type: 'string', enum: ['mean', 'min', 'max', 'last'] },
  tz: TZ_SCHEMA,
} as const;

/** `a, b,,c` → `['a', 'b', 'c']`; absent → `[]`. */
export function commaList(s: string | undefined): string[] {
  return s ? s.split(',').map((x) => x.trim()).filter(Boolean) : [];
}

/** Epoch ms or an ISO 8601 time; anything else is a 400 naming the parameter. */
export function parseTime(s: string, name: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `${name}: not epoch ms or an ISO 8601 time`);
  return n;
}

export interface HistoryQuery {
  device?: string;
  line?: string;
  transformer?: string;
  quantity: string;
  from: string;
  to?: string;
}

export interface HistorySelection {
  devices: string[];
  quantities: Quantity[];
  from: number;
  to: number;
}

/** The meters, quantities and window a history query asks for, or a 400/404 saying what is wrong. */
export function historySelection(
  q: HistoryQuery,
  session: Parameters<typeof sitesOf>[0],
  stations: StationIndex,
  siteOfDevice: (device: string) => string | undefined,
  now: number,
): HistorySelection {
  const allowed = sitesOf(session);
  const unknown: string[] = [];
  // ids are unique per site; every site the user may see is searched
  const meters = (ids: string[], map: ReadonlyMap<string, ReadonlyArray<{ site: string; meter: string }>>, kind: string) =>
    ids.flatMap((id) => {
      const found = (map.get(id) ?? []).filter((m) => siteVisible(allowed, m.site)).map((m) => m.meter);
      if (found.length === 0) unknown.push(`${kind} ${id}`);
      return found;
    });
  const given = commaList(q.device);
  if (allowed) for (const d of given) if (!siteVisible(allowed, siteOfDevice(d))) unknown.push(`device ${d}`);
  const devices = [
    ...new Set([...given, ...meters(commaList(q.line), stations.lineMeters, 'line'), ...meters(commaList(q.transformer), stations.transformerMeters, 'transformer')]),
  ];
  if (unknown.length) throw new GridwatchError('GW_ERR_HTTP_NOT_FOUND', `no meter for ${unknown.slice(0, 20).join(', ')}`);
  if (devices.length === 0) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'give device, line or transformer');
  const quantities = [...new Set(commaList(q.quantity))];
  const bad = quantities.filter((x) => !isQuantity(x));
  if (bad.length) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `unknown quantities: ${bad.join(', ')}`);
  const from = parseTime(q.from, 'from');
  const to = q.to ? parseTime(q.to, 'to') : now;
  if (to <= from) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', 'to must be after from');
  return { devices, quantities: quantities as Quantity[], from, to };
}
