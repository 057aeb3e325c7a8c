/**
 * Every word the reports print, Chinese first, then English (`?lang=zh|en`).
 * HTML, CSV and the SMS summaries take their labels from here only.
 */
import type { RiskCode, RiskDimension, RiskIndicatorStatus, RiskItemEvent, RiskItemState } from '../../../contract/risk.ts';

export type ReportLang = 'zh' | 'en';

const zh = {
  title_station: '供电所服务风险报告',
  title_daily: '供电所服务风险日监控',
  title_weekly: '供电所服务风险周通报',
  title_monthly: '供电所服务风险月考评',
  period: '统计周期',
  generated: '生成时间',
  scope: '范围',
  scope_all: '全部供电所',
  scope_some: '所辖 {n} 个供电所',
  thresholds: '阈值：黄码 ≥ {yellow}，红码 ≥ {red}（风险分 0–100，越高风险越大）',
  station: '供电所',
  station_id: '编号',
  rank: '排名',
  code: '风险码',
  score: '风险分',
  previous_score: '前一日',
  previous_code: '前一日风险码',
  change: '变化',
  driving: '主要指标',
  high_risk_days_month: '本月高风险天数',
  flagged: '超7天',
  open_items: '未关闭事项',
  counts: '风险码分布',
  stations: '供电所数',
  high_risk: '红黄码',
  mean_score: '平均风险分',
  max_score: '最高风险分',
  changed_title: '风险码变化的供电所',
  flagged_title: '本月高风险超过7天的供电所',
  none_listed: '无',
  ranking: '排名',
  chart_scores: '各供电所风险分',
  chart_mean_scores: '各供电所周平均风险分',
  chart_high_risk_days: '各供电所本月高风险天数（虚线：7天）',
  chart_trend: '风险分走势',
  chart_top: '（前 {n} 名）',
  colon: '：',
  comma: '，',
  semicolon: '；',
  list_sep: '、',
  days_red: '红码天数',
  days_yellow: '黄码天数',
  days_green: '绿码天数',
  days_none: '无数据天数',
  high_risk_days: '高风险天数',
  worst: '最差指标',
  worst_share: '贡献',
  previous_week: '上周',
  previous_rank: '上周排名',
  rank_change: '排名变化',
  week_change: '较上周',
  high_risk_stations: '出现红黄码的供电所',
  station_days: '各风险码的站日数（每个供电所每天计一次）',
  items_opened: '新开事项',
  items_closed: '已关闭事项',
  items_overdue: '逾期事项',
  items_open: '月末未关闭',
  latest: '最新',
  day: '日期',
  run: '计算方式',
  coverage: '数据覆盖率',
  dimensions: '分维度风险分',
  indicators: '指标明细',
  indicator: '指标',
  dimension: '维度',
  value: '数值',
  unit: '单位',
  weight: '权重',
  normalised: '标准化分',
  contribution: '贡献分',
  status: '状态',
  items: '风险事项与跟踪反馈',
  item: '事项',
  state: '状态',
  opened: '开立',
  due: '应反馈',
  closed: '关闭',
  escalated: '已升级',
  assignees: '责任人',
  no_days: '本周期没有计算结果。',
  no_items: '本周期没有风险事项。',
  trend_days: '计算天数',
  total: '合计',
  yes: '是',
  no: '否',
  page: '第 {page} / {pages} 页',
  note: '说明：风险分由各指标按权重加权；“主要指标”为贡献最大的指标；高风险指红码或黄码；无数据的指标不计分。',
  sms_lead: '{day}日风险监控',
  sms_counts: '红码{red}个、黄码{yellow}个、绿码{green}个',
  sms_red: '红码：{names}',
  sms_yellow: '黄码：{names}',
  sms_flagged: '本月超7天：{names}',
  sms_more: '等{n}个',
  sms_link: '详见 {link}',
  sms_site_all: '全部{n}个供电所',
  sms_site_some: '所辖{n}个供电所',
};

type Messages = Record<keyof typeof zh, string>;

const en: Messages = {
  title_station: 'Service risk report of a supply station',
  title_daily: 'Service risk — daily monitoring sheet',
  title_weekly: 'Service risk — weekly bulletin',
  title_monthly: 'Service risk — monthly assessment',
  period: 'Period',
  generated: 'Generated',
  scope: 'Scope',
  scope_all: 'all supply stations',
  scope_some: '{n} supply stations',
  thresholds: 'Thresholds: yellow ≥ {yellow}, red ≥ {red} (risk score 0–100, higher is worse)',
  station: 'Station',
  station_id: 'Id',
  rank: 'Rank',
  code: 'Code',
  score: 'Score',
  previous_score: 'Day before',
  previous_code: 'Code the day before',
  change: 'Change',
  driving: 'Driving indicator',
  high_risk_days_month: 'High-risk days this month',
  flagged: '> 7 days',
  open_items: 'Open items',
  counts: 'Codes',
  stations: 'Stations',
  high_risk: 'Red or yellow',
  mean_score: 'Mean score',
  max_score: 'Highest score',
  changed_title: 'Stations whose code changed',
  flagged_title: 'Stations at high risk more than 7 days this month',
  none_listed: 'none',
  ranking: 'Ranking',
  chart_scores: 'Score per station',
  chart_mean_scores: 'Mean score of the week per station',
  chart_high_risk_days: 'High-risk days of the month per station (dashed: 7 days)',
  chart_trend: 'Score over the period',
  chart_top: ' (top {n})',
  colon: ': ',
  comma: ', ',
  semicolon: '; ',
  list_sep: ', ',
  days_red: 'Red days',
  days_yellow: 'Yellow days',
  days_green: 'Green days',
  days_none: 'Days without data',
  high_risk_days: 'High-risk days',
  worst: 'Worst indicator',
  worst_share: 'Share',
  previous_week: 'Week before',
  previous_rank: 'Rank the week before',
  rank_change: 'Rank change',
  week_change: 'vs. the week before',
  high_risk_stations: 'Stations with a red or yellow day',
  station_days: 'Station-days per code (each station counted once a day)',
  items_opened: 'Items opened',
  items_closed: 'Items closed',
  items_overdue: 'Items overdue',
  items_open: 'Open at month end',
  latest: 'Latest',
  day: 'Day',
  run: 'Run',
  coverage: 'Data coverage',
  dimensions: 'Score per dimension',
  indicators: 'Indicators',
  indicator: 'Indicator',
  dimension: 'Dimension',
  value: 'Value',
  unit: 'Unit',
  weight: 'Weight',
  normalised: 'Normalised',
  contribution: 'Contribution',
  status: 'Status',
  items: 'Risk items and follow-up',
  item: 'Item',
  state: 'State',
  opened: 'Opened',
  due: 'Answer due',
  closed: 'Closed',
  escalated: 'escalated',
  assignees: 'Assigned to',
  no_days: 'No computed days in this period.',
  no_items: 'No risk items in this period.',
  trend_days: 'Computed days',
  total: 'Total',
  yes: 'yes',
  no: 'no',
  page: 'page {page} of {pages}',
  note: 'The score is the weighted mean of the indicators; the driving indicator contributes most; high risk means red or yellow; indicators without data are not scored.',
  sms_lead: 'Risk monitoring {day}',
  sms_counts: 'red {red}, yellow {yellow}, green {green}',
  sms_red: 'red: {names}',
  sms_yellow: 'yellow: {names}',
  sms_flagged: '> 7 days this month: {names}',
  sms_more: ' ({n} in all)',
  sms_link: 'details: {link}',
  sms_site_all: 'all {n} stations',
  sms_site_some: '{n} stations',
};

export const MESSAGES: Record<ReportLang, Messages> = { zh, en };
export type MessageKey = keyof typeof zh;

/** The label `key` in `lang` with `{name}` filled in. */
export function msg(lang: ReportLang, key: MessageKey, vars: Record<string, string | number> = {}): string {
  return MESSAGES[lang][key].replace(/\{(\w+)\}/g, (_, v: string) => String(vars[v] ?? `{${v}}`));
}

export const CODE_WORDS: Record<ReportLang, Record<RiskCode | 'none', string>> = {
  zh: { red: '红码', yellow: '黄码', green: '绿码', none: '无数据' },
  en: { red: 'red', yellow: 'yellow', green: 'green', none: 'no data' },
};

export const DIMENSION_WORDS: Record<ReportLang, Record<RiskDimension, string>> = {
  zh: { demand: '诉求强度', handling: '处置质量', speed: '处置速度' },
  en: { demand: 'demand', handling: 'handling', speed: 'speed' },
};

export const STATUS_WORDS: Record<ReportLang, Record<RiskIndicatorStatus, string>> = {
  zh: { ok: '已计分', 'no-data': '无数据', 'not-available': '暂无数据源', invalid: '数值无效' },
  en: { ok: 'scored', 'no-data': 'no data', 'not-available': 'no input yet', invalid: 'invalid value' },
};

export const ITEM_STATE_WORDS: Record<ReportLang, Record<RiskItemState, string>> = {
  zh: { open: '待反馈', answered: '已反馈', closed: '已关闭' },
  en: { open: 'open', answered: 'answered', closed: 'closed' },
};

export const EVENT_WORDS: Record<ReportLang, Record<RiskItemEvent['kind'], string>> = {
  zh: { opened: '开立', assigned: '指派', 'follow-up': '反馈', verified: '核实', rejected: '退回', escalated: '升级', notified: '通知', 'code-changed': '风险码变化', closed: '关闭' },
  en: { opened: 'opened', assigned: 'assigned', 'follow-up': 'follow-up', verified: 'verified', rejected: 'rejected', escalated: 'escalated', notified: 'notified', 'code-changed': 'code changed', closed: 'closed' },
};

export const RUN_WORDS: Record<ReportLang, Record<string, string>> = {
  zh: { daily: '每日计算', 'on-demand': '手动计算', provisional: '当日临时' },
  en: { daily: 'daily run', 'on-demand': 'on demand', provisional: 'provisional (today)' },
};

const INDICATOR_NAMES: Record<ReportLang, Record<string, string>> = {
  zh: {
    'repair-calls-per-1000': '千户报修率',
    'repeated-calls': '重复来电',
    complaints: '投诉工单',
    'frequent-outage-customers': '频繁停电客户',
    'fault-outages': '故障停电次数',
    'customer-hours': '停电时户数',
    'one-key-calls': '一键呼叫次数',
    'notices-late-or-wrong': '停电通知迟发或有误',
    escalations: '告警升级',
    'unacknowledged-alarms': '未确认告警',
    'voltage-qualification': '电压合格率',
    'abnormal-loss-areas': '线损异常台区',
    'heavy-load-hours': '配变重过载时长',
    'meter-comm-availability': '计量通信在线率',
    'ack-time-mean': '告警平均确认时长',
    'one-key-answer-time': '一键呼叫平均应答时长',
  },
  en: {
    'repair-calls-per-1000': 'repair calls per 1,000 customers',
    'repeated-calls': 'repeated calls',
    complaints: 'complaints',
    'frequent-outage-customers': 'frequent-outage customers',
    'fault-outages': 'fault outages',
    'customer-hours': 'customer-hours of fault outages',
    'one-key-calls': 'one-key calls',
    'notices-late-or-wrong': 'outage notices late or wrong',
    escalations: 'alarm escalations',
    'unacknowledged-alarms': 'unacknowledged alarms',
    'voltage-qualification': 'voltage qualification rate',
    'abnormal-loss-areas': 'areas with abnormal line loss',
    'heavy-load-hours': 'transformer heavy-load hours',
    'meter-comm-availability': 'meter communication availability',
    'ack-time-mean': 'mean time to acknowledge',
    'one-key-answer-time': 'mean one-key answer time',
  },
};

const UNIT_WORDS_ZH: Record<string, string> = {
  'calls / 1,000 customers': '次/千户', calls: '次', tickets: '件', customers: '户', outages: '次', 'customer-hours': '时户',
  notices: '条', alarms: '条', areas: '个', h: '小时', min: '分钟', s: '秒', '%': '%',
};

/** An indicator's name; the id itself for one the table does not know. */
export function indicatorName(lang: ReportLang, id: string | null): string {
  if (id === null) return '';
  return INDICATOR_NAMES[lang][id] ?? id;
}

export function unitWord(lang: ReportLang, unit: string): string {
  return lang === 'zh' ? (UNIT_WORDS_ZH[unit] ?? unit) : unit;
}

export function codeWord(lang: ReportLang, code: RiskCode | null): string {
  return CODE_WORDS[lang][code ?? 'none'];
}
