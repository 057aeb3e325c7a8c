/**
 * Who a risk item goes to, and the SMS it sends (docs/risk.md, Closed loop).
 * Pure: the contact directory's people come in as a list.
 *
 * Assignment: the active people of the directory who answer for the station
 * by name (their `stations` include it) with one of `stationRoles`; none →
 * the center's on-duty people (`onDutyRoles`, answering for every station),
 * and the item says so. Escalation: people with one of `leaderRoles` who
 * answer for the station or for every station (the center's leaders).
 */
import type { RiskCode, RiskItem } from '../../../contract/risk.ts';
import type { Person } from '../../notify/contacts.ts';
import type { NotifyRequest } from '../../notify/index.ts';
import type { Assignment } from './lifecycle.ts';
import { made } from './steps.ts';

export interface RoutingOptions {
  stationRoles: readonly string[];
  onDutyRoles: readonly string[];
  leaderRoles: readonly string[];
}

const hasRole = (p: Person, roles: readonly string[]) => p.active && p.roles.some((r) => roles.includes(r));

export function assignFor(people: readonly Person[], station: string, o: RoutingOptions): Assignment {
  const own = people.filter((p) => hasRole(p, o.stationRoles) && p.stations.includes(station));
  const roles = [...o.stationRoles];
  const dutyRoles = [...o.onDutyRoles];
  if (own.length) return { assignees: own.map((p) => ({ id: p.id, name: p.name })), ...made('assigned', { station, roles, names: own.map((p) => p.name) }) };
  const duty = people.filter((p) => hasRole(p, o.onDutyRoles) && p.stations.length === 0);
  if (duty.length) return { assignees: duty.map((p) => ({ id: p.id, name: p.name })), ...made('assigned_on_duty', { station, roles, dutyRoles, names: duty.map((p) => p.name) }) };
  return { assignees: [], ...made('unassigned', { station, dutyRoles }) };
}

export function leadersFor(people: readonly Person[], station: string, o: RoutingOptions): Person[] {
  return people.filter((p) => hasRole(p, o.leaderRoles) && (p.stations.length === 0 || p.stations.includes(station)));
}

const CODE_TEXT: Record<'zh' | 'en', Record<RiskCode, string>> = {
  zh: { red: '红色', yellow: '黄色', green: '绿色' },
  en: { red: 'red', yellow: 'yellow', green: 'green' },
};

export const INDICATOR_NAMES_ZH: Readonly<Record<string, string>> = {
  'repair-calls-per-1000': '千户报修率',
  'repeated-calls': '重复来电',
  complaints: '投诉',
  'frequent-outage-customers': '频繁停电用户',
  'fault-outages': '故障停电',
  'customer-hours': '停电时户数',
  'notices-late-or-wrong': '停电通知不及时或不准确',
  'ack-time-mean': '告警平均确认时长',
  escalations: '告警升级',
  'unacknowledged-alarms': '未确认告警',
  'one-key-calls': '一键呼叫',
  'one-key-answer-time': '一键呼叫应答时长',
  'voltage-qualification': '电压合格率',
  'abnormal-loss-areas': '线损异常台区',
  'heavy-load-hours': '重过载时长',
  'meter-comm-availability': '电表通信可用率',
};

export interface NoticeContext {
  lang: 'zh' | 'en';
  /** minutes east of UTC for the times in the text */
  tzOffsetMin: number;
  /** the dashboard's address as its users reach it; the item's link is `<dashboardUrl>#/risk/items/<id>` */
  dashboardUrl: string;
  stationName: (station: string) => string;
}

export function itemLink(c: Pick<NoticeContext, 'dashboardUrl'>, id: string): string {
  return `${c.dashboardUrl.replace(/#.*$/, '')}#/risk/items/${encodeURIComponent(id)}`;
}

function localTime(ms: number, tzOffsetMin: number): string {
  return new Date(ms + tzOffsetMin * 60_000).toISOString().slice(5, 16).replace('T', ' ');
}

function common(item: RiskItem, c: NoticeContext) {
  const code = item.code && item.code !== 'green' ? item.code : item.openedCode;
  return {
    site: c.stationName(item.station),
    code: CODE_TEXT[c.lang][code],
    due: localTime(item.dueAt, c.tzOffsetMin),
    link: itemLink(c, item.id),
  };
}

/** The opening notice to each assignee with a phone (key `risk-item:<id>:opened:<person>`). */
export function openedNotices(item: RiskItem, people: readonly Person[], c: NoticeContext): NotifyRequest[] {
  const driving = item.driving ? (c.lang === 'zh' ? (INDICATOR_NAMES_ZH[item.driving] ?? item.driving) : item.driving) : '—';
  const byId = new Map(people.map((p) => [p.id, p]));
  return item.assignees.flatMap((a) => {
    const p = byId.get(a.id);
    if (!p || !p.active) return [];
    return [{
      key: `risk-item:${item.id}:opened:${p.id}`,
      to: { phone: p.phone, name: p.name, person: p.id },
      template: 'risk_item_opened',
      vars: { ...common(item, c), driving },
      purpose: 'risk_report' as const,
      ref: { kind: 'risk-item', id: item.id },
      lang: c.lang,
    }];
  });
}

/** The escalation notice to the leaders (key `risk-item:<id>:escalated:<due>:<person>`: once per due time and person). */
export function escalationNotices(item: RiskItem, leaders: readonly Person[], c: NoticeContext): NotifyRequest[] {
  const assignees = item.assignees.map((a) => a.name).join('、') || '—';
  return leaders.map((p) => ({
    key: `risk-item:${item.id}:escalated:${item.dueAt}:${p.id}`,
    to: { phone: p.phone, name: p.name, person: p.id },
    template: 'risk_item_escalated',
    vars: { ...common(item, c), assignees },
    purpose: 'risk_report' as const,
    ref: { kind: 'risk-item', id: item.id },
    lang: c.lang,
  }));
}

export function codeText(lang: 'zh' | 'en', code: RiskCode): string {
  return CODE_TEXT[lang][code];
}
