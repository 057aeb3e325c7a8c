/**
 * The outage pool's view model (dashboard/src/outages/model.ts) on fixtures
 * in the REST's shape: customer-hours that grow while an outage lasts,
 * durations, scope names, the one-word notice status, delivery per customer
 * (failed first), what each role may do with a plan, and the plan form's
 * checks.
 */
import { describe, expect, it } from 'vitest';
import {
  customerHoursAt,
  deliveryByCustomer,
  durationParts,
  isLate,
  localInput,
  noticeStatus,
  planActions,
  planFromForm,
  planInSite,
  planScopeText,
  scopeText,
  sortOutages,
  summarize,
  tabOf,
  type Names,
  type PlanFormValues,
} from '../../dashboard/src/outages/model.ts';
import type { CustomerRow, Notice } from '../../dashboard/src/outages/types.ts';

const H = 3_600_000;
const T0 = Date.UTC(2026, 11, 7, 2, 0, 0);

const names: Names = {
  site: (id) => ({ s1: '城关供电所' })[id] ?? id,
  feeder: (id) => ({ f1: '10kV 城关一线' })[id] ?? id,
  transformer: (_s, id) => ({ t1: '锦绣花园 1#配变', t2: '锦绣花园 2#配变' })[id] ?? id,
  line: (_s, id) => ({ l1: '1号楼出线' })[id] ?? id,
};

describe('outage pool view model', () => {
  it('customer-hours grow with the clock while active and are the server figure once restored', () => {
    const active = { state: 'active' as const, start: T0, customers: 120, customerHours: 0 };
    expect(customerHoursAt(active, T0 + 30 * 60_000)).toBeCloseTo(60, 6);
    expect(customerHoursAt(active, T0 - 1000)).toBe(0);
    const restored = { state: 'restored' as const, start: T0, end: T0 + 2 * H, customers: 120, customerHours: 238.5 };
    expect(customerHoursAt(restored, T0 + 10 * H)).toBe(238.5);
  });

  it('durations in the two largest units that matter', () => {
    expect(durationParts(45_000)).toEqual({ unit: 's', n: 45 });
    expect(durationParts(45 * 60_000)).toEqual({ unit: 'm', n: 45 });
    expect(durationParts(2 * H + 5 * 60_000)).toEqual({ unit: 'hm', h: 2, m: '05' });
    expect(durationParts(50 * H)).toEqual({ unit: 'dh', d: 2, h: 2 });
  });

  it('scopes read with the topology names, ids where a name is unknown', () => {
    expect(scopeText({ kind: 'feeder', site: 's1', feeder: 'f1' }, names)).toBe('城关供电所 · 10kV 城关一线');
    // a feeder over several stations has no site
    expect(scopeText({ kind: 'feeder', site: '', feeder: 'f1' }, names)).toBe('10kV 城关一线');
    expect(scopeText({ kind: 'line', site: 's1', transformer: 't1', line: 'l1' }, names)).toBe('城关供电所 · 锦绣花园 1#配变 · 1号楼出线');
    expect(scopeText({ kind: 'meter', site: 'sx', meter: 'm-9' }, names)).toBe('sx · m-9');
    const plan = [
      { kind: 'transformer' as const, site: 's1', transformer: 't1' },
      { kind: 'transformer' as const, site: 's1', transformer: 't2' },
      { kind: 'line' as const, site: 's2', line: 'l9' },
    ];
    expect(planScopeText(plan, names, '、')).toBe('城关供电所 · 锦绣花园 1#配变、锦绣花园 2#配变、s2 · l9');
    expect(planScopeText([{ kind: 'feeder', feeder: 'f1' }], names)).toBe('10kV 城关一线');
    expect(planInSite({ scope: plan }, 's2')).toBe(true);
    expect(planInSite({ scope: plan }, 's3')).toBe(false);
    expect(planInSite({ sites: ['s3'], scope: [{ kind: 'feeder', feeder: 'f1' }] }, 's3')).toBe(true);
    expect(planInSite({ scope: plan }, '')).toBe(true);
  });

  it('active outages first, newest first', () => {
    const list = [
      { id: 'a', state: 'restored', start: T0 + 3 },
      { id: 'b', state: 'active', start: T0 + 1 },
      { id: 'c', state: 'active', start: T0 + 2 },
    ];
    expect(sortOutages(list).map((o) => o.id)).toEqual(['c', 'b', 'a']);
  });

  it('one word for a set of notices', () => {
    expect(noticeStatus(undefined).status).toBe('none');
    expect(noticeStatus({ queued: 0, sent: 0, delivered: 0, failed: 0, read: 0 }).status).toBe('none');
    expect(noticeStatus({ queued: 1, sent: 2, delivered: 3, failed: 0, read: 0 })).toEqual({ status: 'pending', total: 6, done: 3, failed: 0 });
    expect(noticeStatus({ queued: 0, sent: 0, delivered: 3, failed: 0, read: 2 })).toEqual({ status: 'delivered', total: 5, done: 5, failed: 0 });
    expect(noticeStatus({ queued: 0, sent: 0, delivered: 3, failed: 1, read: 0 }).status).toBe('partial');
    expect(noticeStatus({ queued: 0, sent: 0, delivered: 0, failed: 2, read: 0 }).status).toBe('failed');
  });

  it('delivery per customer: the best state of its contacts, customers with only failures first, important before others', () => {
    const affected: CustomerRow[] = [
      // the REST's rows carry their own notices and a count of contacts
      { id: 'c1', name: '张伟', category: 'residential', contacts: 1, notices: [{ phone: '13800000001', state: 'delivered' }] },
      { id: 'c2', name: '县人民医院', category: 'public', important: true, contacts: 2, notices: [{ phone: '13800000002', state: 'failed' }, { phone: '13800000003', state: 'read' }] },
      { id: 'c3', name: '红星机械厂', category: 'industrial', contacts: 1, notices: [{ phone: '13800000004', state: 'failed' }] },
      { id: 'c4', name: '刘洋', category: 'residential', contacts: 0 },
      // contacts listed, notices given apart and matched by phone
      { id: 'c5', name: '陈静', category: 'residential', contacts: [{ phone: '13800000005' }] },
      { id: 'c6', name: '东方家园物业', category: 'commercial', important: true, contacts: 1 },
    ];
    const apart: Notice[] = [{ phone: '13800000005', state: 'sending' }];
    const rows = deliveryByCustomer(affected, apart);
    expect(rows.map((r) => [r.customer.id, r.state])).toEqual([
      ['c3', 'failed'],
      ['c5', 'sending'],
      ['c6', null],
      ['c4', null],
      ['c2', 'read'],
      ['c1', 'delivered'],
    ]);
    const all = rows.flatMap((r) => r.notices);
    expect(summarize(all)).toEqual({ queued: 0, sending: 1, sent: 0, delivered: 1, failed: 2, read: 1 });
    expect(noticeStatus(summarize(all))).toEqual({ status: 'pending', total: 5, done: 2, failed: 2 });
  });

  it('a viewer may not confirm or cancel; an operator confirms a draft and cancels until it starts', () => {
    expect(planActions({ state: 'draft' }, 'viewer')).toEqual({ confirm: false, cancel: false, edit: false });
    expect(planActions({ state: 'draft' }, 'operator')).toEqual({ confirm: true, cancel: true, edit: true });
    expect(planActions({ state: 'notified' }, 'operator')).toEqual({ confirm: false, cancel: true, edit: false });
    expect(planActions({ state: 'in_progress' }, 'admin')).toEqual({ confirm: false, cancel: false, edit: false });
    expect(planActions({ state: 'cancelled' }, 'admin').cancel).toBe(false);
    // a reload changed a notified plan's list: confirmed again by an operator, never by a viewer
    expect(planActions({ state: 'notified', pendingChange: { at: T0, added: ['c9'], removed: [] } }, 'operator').confirm).toBe(true);
    expect(planActions({ state: 'notified', pendingChange: { at: T0, added: ['c9'], removed: [] } }, 'viewer').confirm).toBe(false);
  });

  it('the plan form reports every problem at once and sends a clean plan', () => {
    const blank: PlanFormValues = { site: '', kind: 'transformer', feeder: '', transformers: [], lines: [], start: '', end: 'x', reason: '  ', workOrder: '', crew: '' };
    // the scope is picked within a station: without one only the station is asked for
    expect(planFromForm(blank).errors).toEqual(['site', 'start', 'end', 'reason']);
    expect(planFromForm({ ...blank, site: 's1' }).errors).toEqual(['scope', 'start', 'end', 'reason']);
    const start = localInput(T0 + 8 * 24 * H);
    const end = localInput(T0 + 8 * 24 * H - H);
    expect(planFromForm({ ...blank, site: 's1', transformers: ['t1'], start, end, reason: '检修' }).errors).toEqual(['window']);
    const ok = planFromForm({ ...blank, site: 's1', kind: 'feeder', feeder: 'f1', transformers: ['t1'], start, end: localInput(T0 + 8 * 24 * H + 4 * H), reason: ' 10kV 线路检修 ', workOrder: 'GD-2026-001', crew: '' });
    expect(ok.errors).toEqual([]);
    expect(ok.plan).toEqual({ scope: [{ kind: 'feeder', feeder: 'f1' }], start: new Date(start).getTime(), end: new Date(start).getTime() + 4 * H, reason: '10kV 线路检修', workOrder: 'GD-2026-001', crew: '' });
    const lines = planFromForm({ ...blank, site: 's1', kind: 'line', lines: ['l1', 'l2'], start, end: localInput(T0 + 8 * 24 * H + H), reason: '迁改' });
    expect(lines.plan?.scope).toEqual([{ kind: 'line', site: 's1', line: 'l1' }, { kind: 'line', site: 's1', line: 'l2' }]);
  });

  it('a start less than the lead time ahead is late; unknown tabs fall back to "now"', () => {
    expect(isLate(T0 + 6 * 24 * H, T0)).toBe(true);
    expect(isLate(T0 + 8 * 24 * H, T0)).toBe(false);
    expect(isLate(T0 + H, T0, 0.05)).toBe(true);
    expect(isLate(T0 + 2 * H, T0, 0.05)).toBe(false);
    expect(tabOf('history')).toBe('history');
    expect(tabOf('<script>')).toBe('now');
  });
});
