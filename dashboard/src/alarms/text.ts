/** Alarm labels in the page's language: severity, state, level, transition reason, times. */
import { getLang } from '../i18n.ts';
import type { AlarmState } from './store.ts';

export const L = (zh: string, en: string): string => (getLang() === 'zh' ? zh : en);
const SEV_ZH = ['', '紧急', '重要', '次要', '提示'];
const SEV_EN = ['', 'critical', 'high', 'medium', 'low'];
export const sevText = (s: number): string => (getLang() === 'zh' ? SEV_ZH[s] : SEV_EN[s]) ?? String(s);
const STATE_ZH: Record<AlarmState, string> = { normal: '正常', unack_active: '未确认', ack_active: '已确认', unack_rtn: '已恢复未确认', shelved: '已搁置', suppressed: '已抑制', out_of_service: '停用' };
const STATE_EN: Record<AlarmState, string> = { normal: 'normal', unack_active: 'unacknowledged', ack_active: 'acknowledged', unack_rtn: 'cleared, unack.', shelved: 'shelved', suppressed: 'suppressed', out_of_service: 'out of service' };
export const stateText = (s: AlarmState): string => (getLang() === 'zh' ? STATE_ZH[s] : STATE_EN[s]) ?? s;

export function timeText(ms: number | null | undefined): string {
  if (!ms) return '—';
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return d.toLocaleString(getLang() === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false, ...(today ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : {}) });
}

const LEVEL_ZH: Record<string, string> = { hihi: '高高限', hi: '高限', lo: '低限', lolo: '低低限', stale: '无数据', dark: '停电', call: '呼叫', normal: '常态', short: '短时' };
export const levelText = (l: string | null): string => (!l ? '' : getLang() === 'zh' ? (LEVEL_ZH[l] ?? l) : l);
const REASON_ZH: Record<string, string> = {
  raise: '发生',
  level: '级别变化',
  clear: '恢复',
  acknowledge: '确认',
  shelve: '搁置',
  unshelve: '取消搁置',
  shelve_expired: '搁置到期',
  suppress: '抑制',
  unsuppress: '解除抑制',
  remove_from_service: '停用',
  return_to_service: '恢复服务',
  comment: '备注',
};
export const reasonText = (r: string): string => (getLang() === 'zh' ? (REASON_ZH[r] ?? r) : r.replace(/_/g, ' '));
