/**
 * Message templates, Chinese first. `{name}` is replaced by the variable of
 * that name; a template names the variables it needs, and a message missing
 * one is refused at enqueue (a notice with a hole in it is worse than none).
 * Config `notify.templates` may replace the text of a template or add one.
 */

export interface Template {
  zh: string;
  en: string;
}

export const DEFAULT_TEMPLATES: Readonly<Record<string, Template>> = {
  outage_planned: {
    zh: '【停电通知】尊敬的{customer}：因{reason}，计划于{start}至{end}对{scope}停电。请提前做好准备，咨询请拨{hotline}。回复1确认收到。',
    en: '[Outage notice] Dear {customer}: for {reason}, supply to {scope} will be cut from {start} to {end}. Questions: call {hotline}. Reply 1 to confirm.',
  },
  outage_cancelled: {
    zh: '【停电取消】尊敬的{customer}：原定于{start}至{end}对{scope}的停电已取消，供电正常。咨询请拨{hotline}。',
    en: '[Outage cancelled] Dear {customer}: the outage of {scope} planned from {start} to {end} is cancelled. Questions: call {hotline}.',
  },
  outage_extended: {
    zh: '【停电延时】尊敬的{customer}：{scope}的停电将延长至{end}，原因：{reason}。给您带来不便，敬请谅解。咨询请拨{hotline}。',
    en: '[Outage extended] Dear {customer}: the outage of {scope} is extended to {end}, because {reason}. Questions: call {hotline}.',
  },
  outage_restored: {
    zh: '【恢复供电】尊敬的{customer}：{scope}已于{end}恢复供电。如仍未来电，请拨{hotline}报修。',
    en: '[Supply restored] Dear {customer}: supply to {scope} was restored at {end}. Still without power? Call {hotline}.',
  },
  outage_fault: {
    zh: '【故障停电】尊敬的{customer}：{scope}于{start}发生故障停电，抢修人员正在处理，原因：{reason}。咨询请拨{hotline}。',
    en: '[Fault outage] Dear {customer}: {scope} lost supply at {start}; crews are working on it ({reason}). Questions: call {hotline}.',
  },
  alarm_escalation: {
    zh: '【告警升级】{severity}告警未确认：{title}（{site}），开始于{start}，已{minutes}分钟。请尽快处理。',
    en: '[Alarm escalation] {severity} alarm not acknowledged: {title} ({site}), since {start}, {minutes} min. Please act.',
  },
  risk_report: {
    zh: '【服务风险】{site}：{text}',
    en: '[Service risk] {site}: {text}',
  },
  risk_item_opened: {
    zh: '【服务风险】{site}服务风险码转为{code}（主要指标：{driving}），请于{due}前反馈整改情况：{link}',
    en: '[Service risk] {site} turned {code} (driven by {driving}); record your follow-up by {due}: {link}',
  },
  risk_item_escalated: {
    zh: '【风险督办】{site}的{code}风险事项超过反馈期限{due}仍未反馈，责任人：{assignees}。详情：{link}',
    en: '[Risk escalation] the {code} risk item of {site} was not answered by {due}; assigned to {assignees}. Details: {link}',
  },
  test: { zh: '【测试】{text}', en: '[Test] {text}' },
};

const VAR = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The variables a template text uses. */
export function templateVars(text: string): string[] {
  return [...new Set([...text.matchAll(VAR)].map((m) => m[1]!))];
}

export type Composed = { ok: true; text: string } | { ok: false; reason: string };

/** The text of template `id` in `lang` with `vars` filled in, or why it cannot be composed. */
export function compose(templates: Readonly<Record<string, Template>>, id: string, lang: 'zh' | 'en', vars: Readonly<Record<string, string | number>>): Composed {
  const t = templates[id];
  if (!t) return { ok: false, reason: `unknown template "${id}"` };
  const text = t[lang];
  const missing = templateVars(text).filter((v) => vars[v] === undefined || vars[v] === '');
  if (missing.length) return { ok: false, reason: `template "${id}" needs ${missing.map((m) => `{${m}}`).join(', ')}` };
  return { ok: true, text: text.replace(VAR, (_, v: string) => String(vars[v])) };
}
