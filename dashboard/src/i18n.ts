/**
 * Labels in Chinese (default) and English. Topology names (sites, rooms,
 * lines) are shown as configured; only the page's own words are translated.
 */
import { alarmsEn, alarmsZh } from './i18n/alarms.ts';
import { outagesEn, outagesZh } from './i18n/outages.ts';
import { qualityEn, qualityZh } from './i18n/quality.ts';
import { energyEn, energyZh } from './i18n/energy.ts';
import { riskEn, riskZh } from './i18n/risk.ts';

export type Lang = 'zh' | 'en';

const zh = {
  title: '供电服务指挥中心 · 实时监测',
  pageTitle: 'gridwatch · 实时监测',
  login: '登录 gridwatch',
  username: '用户名',
  password: '密码',
  signIn: '登录',
  logout: '退出',
  badLogin: '用户名或密码错误',
  rateLimited: '失败次数过多，请稍后再试',
  sessionExpired: '会话已过期，请重新登录',
  loginFailed: '登录失败：服务器不可达',
  changePassword: '修改密码',
  currentPassword: '当前密码',
  newPassword: '新密码（至少 8 位）',
  repeatPassword: '再次输入新密码',
  pwSave: '保存新密码',
  pwCancel: '取消',
  pwMismatch: '两次输入的新密码不一致',
  pwWrong: '当前密码错误',
  pwTooShort: '新密码至少 8 位',
  pwFailed: '修改失败：服务器不可达',
  pwChanged: '密码已修改，本账号的其他登录已退出',
  exportCsv: '导出 CSV',
  role_viewer: '值班查看',
  role_operator: '调度员',
  role_admin: '管理员',
  conn_open: '实时连接',
  conn_connecting: '连接中…',
  conn_closed: '连接断开，重连中',
  conn_loggedOut: '未登录',
  connLostSince: '数据截至',
  nav_overview: '总览',
  nav_charts: '实时曲线',
  nav_room: '配电房',
  nav_alarms: '告警',
  lang: 'EN',
  // freshness
  q_good: '实时',
  q_stale: '数据陈旧',
  q_comm_loss: '通信中断',
  q_none: '无数据',
  q_offline: '连接断开',
  ago_s: '{n} 秒前',
  ago_m: '{n} 分钟前',
  ago_h: '{n} 小时前',
  ago_d: '{n} 天前',
  // overview
  sum_rooms: '配电房',
  sum_transformers: '配变',
  sum_lines: '出线',
  sum_over: '过载',
  sum_heavy: '重载',
  sum_comm: '通信中断',
  sum_stale: '数据陈旧',
  sum_outage: '停电',
  sum_alarms: '告警',
  alarmsUnavailable: '未接入',
  alarmsUnavailableTip: '告警服务尚未接入（/api/alarms 不存在）',
  search: '搜索站点、配电房、配变、出线、表计…',
  sort: '排序',
  sortTopology: '拓扑',
  sortLoad: '负载率 ↓',
  onlyAbnormal: '只看异常',
  noMatch: '没有匹配的配电房',
  noTopology: '拓扑为空：尚未配置站点',
  consult: '远程会诊 ›',
  rated: '额定',
  noRating: '无额定值',
  noMeter: '无表计',
  outage: '停电',
  overload: '过载',
  heavy: '重载',
  loadRate: '负载率',
  // room
  roomNotFound: '找不到该配电房',
  transformer: '配变',
  lines: '出线',
  line: '出线',
  sensors: '环境监测',
  noSensors: '无传感器',
  sensorWaiting: '等待数据…',
  door: '门禁',
  water: '水浸',
  smoke: '烟感',
  humidity: '湿度',
  temp: '室温',
  t_oil: '油温',
  t_winding: '绕组温度',
  door_1: '开启',
  door_0: '关闭',
  alarm_1: '报警',
  alarm_0: '正常',
  state: '状态',
  lastHours: '最近曲线',
  hide: '收起',
  agent: '采集终端',
  unbalance: '不平衡度',
  noPoint: '无测点',
  call: '一键呼叫',
  // charts
  devices: '设备',
  quantities: '量',
  window: '时间窗',
  live: '实时',
  paused: '已暂停实时（缩放中）',
  resume: '恢复实时',
  loading: '加载中…',
  loadFailed: '历史数据加载失败',
  noSeries: '请选择设备和量',
  chartsHint: '拖动选择区间可放大，双击恢复实时',
  filterDevices: '筛选设备…',
  step: '分辨率',
  raw: '原始',
  points: '点',
  latest: '最新',
  time: '时间',
  g_voltage: '电压',
  g_lineVoltage: '线电压',
  g_current: '电流',
  g_power: '功率',
  g_quality: '电能质量',
  g_load: '负载',
  g_energy: '电量',
  g_env: '环境',
  // time windows and short labels (chart.ts, model.ts, views)
  w_15m: '15 分钟',
  w_1h: '1 小时',
  w_6h: '6 小时',
  w_1d: '1 天',
  w_7d: '7 天',
  w_30d: '30 天',
  nHours: '{n} 小时',
  whoRole: '{user}（{role}）',
  ql_t_oil: 'T油',
  ql_t_winding: 'T绕',
  // the alarm console: i18n/alarms.ts
  ...alarmsZh,
  ...outagesZh,
  ...qualityZh,
  ...energyZh,
  ...riskZh,
} as const;

export type MsgKey = keyof typeof zh;

const en: Record<MsgKey, string> = {
  title: 'Power-supply command center · live',
  pageTitle: 'gridwatch · live',
  login: 'Sign in to gridwatch',
  username: 'User name',
  password: 'Password',
  signIn: 'Sign in',
  logout: 'Sign out',
  badLogin: 'Wrong user name or password',
  rateLimited: 'Too many failed attempts; try again later',
  sessionExpired: 'Session expired; please sign in again',
  loginFailed: 'Sign-in failed: server unreachable',
  changePassword: 'Change password',
  currentPassword: 'Current password',
  newPassword: 'New password (at least 8 characters)',
  repeatPassword: 'New password again',
  pwSave: 'Save new password',
  pwCancel: 'Cancel',
  pwMismatch: 'The two new passwords differ',
  pwWrong: 'The current password is wrong',
  pwTooShort: 'The new password needs at least 8 characters',
  pwFailed: 'Change failed: server unreachable',
  pwChanged: 'Password changed; this account is signed out everywhere else',
  exportCsv: 'Export CSV',
  role_viewer: 'viewer',
  role_operator: 'operator',
  role_admin: 'admin',
  conn_open: 'Live',
  conn_connecting: 'Connecting…',
  conn_closed: 'Disconnected, retrying',
  conn_loggedOut: 'Signed out',
  connLostSince: 'data as of',
  nav_overview: 'Overview',
  nav_charts: 'Live charts',
  nav_room: 'Room',
  nav_alarms: 'Alarms',
  lang: '中文',
  q_good: 'live',
  q_stale: 'stale',
  q_comm_loss: 'comm loss',
  q_none: 'no data',
  q_offline: 'disconnected',
  ago_s: '{n} s ago',
  ago_m: '{n} min ago',
  ago_h: '{n} h ago',
  ago_d: '{n} d ago',
  sum_rooms: 'rooms',
  sum_transformers: 'transformers',
  sum_lines: 'lines',
  sum_over: 'overload',
  sum_heavy: 'heavy load',
  sum_comm: 'comm loss',
  sum_stale: 'stale',
  sum_outage: 'outage',
  sum_alarms: 'alarms',
  alarmsUnavailable: 'n/a',
  alarmsUnavailableTip: 'alarm service not available yet (no /api/alarms)',
  search: 'Search site, room, transformer, line, meter…',
  sort: 'Sort',
  sortTopology: 'topology',
  sortLoad: 'load rate ↓',
  onlyAbnormal: 'Abnormal only',
  noMatch: 'No room matches',
  noTopology: 'Empty topology: no sites configured',
  consult: 'Remote consultation ›',
  rated: 'rated',
  noRating: 'no rating',
  noMeter: 'no meter',
  outage: 'outage',
  overload: 'overload',
  heavy: 'heavy',
  loadRate: 'Load rate',
  roomNotFound: 'No such distribution room',
  transformer: 'Transformer',
  lines: 'Outgoing lines',
  line: 'Line',
  sensors: 'Room sensors',
  noSensors: 'No sensors',
  sensorWaiting: 'waiting for data…',
  door: 'Door',
  water: 'Water',
  smoke: 'Smoke',
  humidity: 'Humidity',
  temp: 'Room temp.',
  t_oil: 'Oil temp.',
  t_winding: 'Winding temp.',
  door_1: 'open',
  door_0: 'closed',
  alarm_1: 'ALARM',
  alarm_0: 'normal',
  state: 'State',
  lastHours: 'Recent hours',
  hide: 'Hide',
  agent: 'Edge agent',
  unbalance: 'Unbalance',
  noPoint: 'not metered',
  call: 'one-key call',
  devices: 'Devices',
  quantities: 'Quantities',
  window: 'Window',
  live: 'live',
  paused: 'Live paused (zoomed)',
  resume: 'Back to live',
  loading: 'Loading…',
  loadFailed: 'History failed to load',
  noSeries: 'Choose devices and quantities',
  chartsHint: 'Drag to zoom in, double-click to go back to live',
  filterDevices: 'Filter devices…',
  step: 'resolution',
  raw: 'raw',
  points: 'points',
  latest: 'latest',
  time: 'Time',
  g_voltage: 'Voltage',
  g_lineVoltage: 'Line voltage',
  g_current: 'Current',
  g_power: 'Power',
  g_quality: 'Power quality',
  g_load: 'Load',
  g_energy: 'Energy',
  g_env: 'Environment',
  w_15m: '15 min',
  w_1h: '1 h',
  w_6h: '6 h',
  w_1d: '1 day',
  w_7d: '7 days',
  w_30d: '30 days',
  nHours: '{n} h',
  whoRole: '{user} ({role})',
  ql_t_oil: 'T oil',
  ql_t_winding: 'T wdg',
  ...alarmsEn,
  ...outagesEn,
  ...qualityEn,
  ...energyEn,
  ...riskEn,
};

const dicts: Record<Lang, Record<MsgKey, string>> = { zh, en };
/** both dictionaries, for the test that checks they hold the same keys */
export const dictionaries: Readonly<Record<Lang, Readonly<Record<string, string>>>> = dicts;

function initialLang(): Lang {
  try {
    return localStorage.getItem('gw-lang') === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
}

let lang: Lang = initialLang();

export function getLang(): Lang {
  return lang;
}

export function setLang(l: Lang): void {
  lang = l;
  try {
    localStorage.setItem('gw-lang', l);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}

/** BCP 47 locale of the page's language, for dates and numbers (toLocaleString) */
export function locale(): string {
  return lang === 'zh' ? 'zh-CN' : 'en-GB';
}

/** the other language: what the language button switches to */
export function otherLang(): Lang {
  return lang === 'zh' ? 'en' : 'zh';
}

/** whether `key` is a message key (codes from the server are looked up as `prefix_code`) */
export function hasKey(key: string): key is MsgKey {
  return Object.prototype.hasOwnProperty.call(zh, key);
}

/**
 * The message `key` in the page's language, every `{name}` replaced by
 * vars.name in one pass: a value that itself holds `{…}` (an operator's
 * comment) is shown as typed.
 */
export function t(key: MsgKey, vars?: Record<string, string | number>): string {
  const s = dicts[lang][key];
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, k: string) => (Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m));
}
