/**
 * Customer CSV import (docs/contract.md, Customers): header names in Chinese
 * or English, each row checked against the topology. A rejected row is
 * reported with its line and reason; the caller decides between nothing
 * (default) and the good rows only (`partial`).
 */
import { PHONE_RE, type Customer, type CustomerCategory, type Topology } from '../../contract/index.ts';
import { decodeCsv, parseCsv, type Encoding } from './csv.ts';

export type Field = 'id' | 'name' | 'account' | 'category' | 'important' | 'site' | 'transformer' | 'line' | 'feeder' | 'meter' | 'contact' | 'phone' | 'role';

/** Header names a column is known by (compared without spaces, case-insensitive). */
export const HEADERS: Record<Field, string[]> = {
  id: ['户号', '用户编号', '用户号', '客户编号', '客户号', 'customerid', 'customer_id', 'customer', 'id'],
  name: ['户名', '用户名称', '客户名称', '用户名', 'name', 'customername'],
  account: ['账号', '账户', '缴费账号', '结算户号', 'account'],
  category: ['用电类别', '用户类别', '客户类别', '用电分类', 'category'],
  important: ['重要用户', '重要客户', '敏感用户', '重要/敏感', 'important'],
  site: ['供电所', '站点', '站所', 'site', 'station'],
  transformer: ['台区', '台区编号', '台区名称', '变压器', '配变', 'transformer'],
  line: ['线路', '出线', '低压线路', 'line'],
  feeder: ['馈线', '10kv线路', '所属线路', 'feeder'],
  meter: ['表号', '电能表号', '电表号', '表计', '电表', 'meter'],
  contact: ['联系人', '联系人姓名', 'contact', 'contactname'],
  phone: ['电话', '联系电话', '手机', '手机号', '手机号码', 'phone', 'mobile'],
  role: ['联系人类型', '联系人角色', 'role', 'contactrole'],
};

const norm = (h: string) => h.replace(/[\s\uFEFF]/g, '').toLowerCase();
const HEADER_FIELD = new Map<string, Field>(Object.entries(HEADERS).flatMap(([f, names]) => names.map((n) => [norm(n), f as Field] as const)));

export interface RejectedRow {
  line: number;
  id?: string;
  reason: string;
}

export interface ParsedImport {
  encoding: Encoding;
  rows: number;
  customers: Array<{ line: number; customer: Customer }>;
  rejected: RejectedRow[];
  /** customers with no phone: imported, flagged 'no contact' */
  noContact: number;
  /** a category text that maps to none of ours: imported as 'other' */
  otherCategory: number;
  /** the file itself is unreadable (no header, unknown columns, bad quoting): nothing is imported */
  fatal?: string;
}

/** the topology's id rule (contract/topology.ts) */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const YES = new Set(['是', 'y', 'yes', 'true', '1', '重要', '敏感', '√']);
const NO = new Set(['否', 'n', 'no', 'false', '0', '', '一般', '普通']);

/** 居民生活用电 → residential, 大工业 → industrial, 一般工商业 → commercial … */
export function categoryOf(text: string): CustomerCategory | null {
  const t = text.trim().toLowerCase();
  if (!t) return 'residential';
  for (const c of ['residential', 'commercial', 'industrial', 'agricultural', 'public', 'other'] as const) if (t === c) return c;
  if (t.includes('居民')) return 'residential';
  if (t.includes('农')) return 'agricultural';
  if (t.includes('工业') && !t.includes('工商')) return 'industrial';
  if (t.includes('商') || t.includes('非居')) return 'commercial';
  if (t.includes('公') || t.includes('市政') || t.includes('医院') || t.includes('学校')) return 'public';
  return null;
}

interface Place {
  site: string;
  transformer: string;
  feeder?: string;
  lines: Map<string, string>;
}

/** Transformers by id and by name (site-qualified and bare), with their lines by id and name. */
function placesOf(t: Topology) {
  const byKey = new Map<string, Place[]>();
  const add = (k: string, p: Place) => {
    const l = byKey.get(k);
    if (l) {
      if (!l.includes(p)) l.push(p);
    } else byKey.set(k, [p]);
  };
  const feederName = new Map((t.feeders ?? []).map((f) => [f.id, f.name]));
  for (const s of t.sites) for (const r of s.rooms) for (const tr of r.transformers) {
    const lines = new Map<string, string>();
    for (const l of tr.lines) {
      lines.set(l.id, l.id);
      lines.set(l.name, l.id);
    }
    const p: Place = { site: s.id, transformer: tr.id, lines, ...(tr.feeder ? { feeder: tr.feeder } : {}) };
    for (const k of [tr.id, tr.name]) {
      add(`${s.id}\u0000${k}`, p);
      add(`${s.name}\u0000${k}`, p);
      add(`*\u0000${k}`, p);
    }
  }
  return { byKey, feederName };
}

export function parseCustomerCsv(buf: Uint8Array, topology: Topology): ParsedImport {
  const { text, encoding } = decodeCsv(buf);
  const out: ParsedImport = { encoding, rows: 0, customers: [], rejected: [], noContact: 0, otherCategory: 0 };
  const p = parseCsv(text);
  if (!p.ok) return { ...out, fatal: `line ${p.line}: ${p.reason}` };
  const [head, ...records] = p.records;
  if (!head) return { ...out, fatal: 'empty file: a header line is needed' };
  const cols = new Map<Field, number>();
  const unknown: string[] = [];
  head.cells.forEach((h, i) => {
    const f = HEADER_FIELD.get(norm(h));
    if (f === undefined) {
      if (norm(h)) unknown.push(h);
    } else if (cols.has(f)) unknown.push(`${h} (a second ${f} column)`);
    else cols.set(f, i);
  });
  const missing = (['id', 'name', 'transformer'] as const).filter((f) => !cols.has(f));
  if (missing.length) return { ...out, fatal: `line 1: no column for ${missing.map((m) => `${m} (${HEADERS[m].slice(0, 2).join('/')})`).join(', ')}` };
  // a column we do not know would be dropped silently: refuse rather than lose data
  if (unknown.length) return { ...out, fatal: `line 1: unknown columns: ${unknown.join(', ')}` };
  const { byKey, feederName } = placesOf(topology);
  const seen = new Map<string, number>();
  const meters = new Map<string, number>();
  const dupLines = new Map<string, number[]>();
  out.rows = records.length;
  for (const rec of records) {
    const get = (f: Field) => {
      const i = cols.get(f);
      return i === undefined ? '' : (rec.cells[i] ?? '').trim();
    };
    const id = get('id');
    const reject = (reason: string) => out.rejected.push({ line: rec.line, ...(id ? { id } : {}), reason });
    if (rec.cells.length > head.cells.length && rec.cells.slice(head.cells.length).some((c) => c.trim() !== '')) {
      reject(`${rec.cells.length} fields, the header has ${head.cells.length}`);
      continue;
    }
    const first = seen.get(id);
    if (id && first !== undefined) {
      const l = dupLines.get(id) ?? [first];
      l.push(rec.line);
      dupLines.set(id, l);
      continue;
    }
    if (id) seen.set(id, rec.line);
    const siteText = get('site');
    const trText = get('transformer');
    const places = byKey.get(`${siteText || '*'}\u0000${trText}`) ?? [];
    if (!trText) {
      reject('no transformer (台区)');
      continue;
    }
    if (!places.length) {
      reject(`unknown transformer "${trText}"${siteText ? ` in site "${siteText}"` : ''}`);
      continue;
    }
    if (places.length > 1) {
      reject(`transformer "${trText}" is in several sites (${places.map((x) => x.site).join(', ')}): give the site (供电所)`);
      continue;
    }
    const place = places[0]!;
    let line: string | undefined;
    const lineText = get('line');
    if (lineText) {
      line = place.lines.get(lineText);
      // 线路 in many exports is the 10 kV line: accepted when it is this transformer's feeder
      if (line === undefined && !(place.feeder && (lineText === place.feeder || lineText === feederName.get(place.feeder)))) {
        reject(`unknown line "${lineText}" under transformer "${place.transformer}"`);
        continue;
      }
    }
    const feederText = get('feeder');
    if (feederText && !(place.feeder && (feederText === place.feeder || feederText === feederName.get(place.feeder)))) {
      reject(`feeder "${feederText}" does not supply transformer "${place.transformer}"${place.feeder ? ` (its feeder is "${place.feeder}")` : ''}`);
      continue;
    }
    const category = categoryOf(get('category'));
    const imp = get('important').toLowerCase();
    if (!YES.has(imp) && !NO.has(imp)) {
      reject(`important must be 是/否 (yes/no), not "${get('important')}"`);
      continue;
    }
    const phones = get('phone').split(/[;；,，/、]/).map((s) => s.trim()).filter(Boolean);
    const badPhone = phones.find((ph) => !PHONE_RE.test(ph));
    if (badPhone !== undefined) {
      reject(`"${badPhone}" is not a phone number`);
      continue;
    }
    const contactName = get('contact') || get('name');
    const role = get('role') || 'electrical';
    const name = get('name');
    const problem =
      !ID_RE.test(id) ? 'id: must be an id of letters, digits, _ . - (max 64)'
        : !name || name.length > 200 ? 'name: 1-200 characters'
          : get('account').length > 64 ? 'account: at most 64 characters'
            : get('meter').length > 256 ? 'meter: at most 256 characters'
              : contactName.length > 100 ? 'contact: at most 100 characters'
                : role.length > 50 ? 'role: at most 50 characters' : null;
    if (problem) {
      reject(problem);
      continue;
    }
    const customer: Customer = {
      id,
      name,
      category: category ?? 'other',
      important: YES.has(imp),
      site: place.site,
      transformer: place.transformer,
      contacts: phones.length ? phones.map((phone) => ({ name: contactName, role, phone: phone.replace(/[ -]/g, '') })) : contactName ? [{ name: contactName, role }] : [],
    };
    if (get('account')) customer.account = get('account');
    if (line) customer.line = line;
    if (get('meter')) customer.meter = get('meter');
    const r = { data: customer };
    const meter = r.data.meter;
    if (meter !== undefined) {
      const ml = meters.get(meter);
      if (ml !== undefined) {
        reject(`meter "${meter}" already belongs to the customer on line ${ml}`);
        continue;
      }
      meters.set(meter, rec.line);
    }
    if (category === null) out.otherCategory++;
    if (!phones.length) out.noContact++;
    out.customers.push({ line: rec.line, customer: r.data });
  }
  // a duplicated id: every line that has it is rejected, naming the others
  if (dupLines.size) {
    out.customers = out.customers.filter((c) => !dupLines.has(c.customer.id));
    out.noContact = out.customers.filter((c) => !c.customer.contacts.some((k) => k.phone)).length;
    for (const [id, lines] of dupLines) for (const l of lines) out.rejected.push({ line: l, id, reason: `duplicate customer id "${id}" (lines ${lines.join(', ')})` });
  }
  out.rejected.sort((a, b) => a.line - b.line);
  return out;
}
