/**
 * SMS summaries after the daily run (docs/risk.md, Reports): each active
 * person of the contact directory with one of the configured roles gets a
 * short summary of the stations they answer for (everyone's for a person
 * with no stations: the command center) — codes counted, the red, yellow
 * and flagged stations named — with a link to the report: the station's own
 * report for a person of one station, else the daily sheet. Through the
 * notification port, template `risk_report`, key `risk-daily:<day>:<person>`
 * so a run repeated for the same day sends nothing twice.
 */
import type { Logger } from 'pino';
import type { RiskRanking, RiskRankingRow } from '../../../contract/risk.ts';
import type { Notifier, NotifyRequest } from '../../notify/types.ts';
import { msg, type ReportLang } from './messages.ts';

export interface SummaryOptions {
  /** contact-directory roles that get the summary */
  roles: readonly string[];
  /** the server's address as the recipients reach it (`https://gridwatch.example`); null: no link */
  baseUrl: string | null;
  /** `risk`: only to people with a red, yellow or flagged station; `always`: every day */
  when: 'risk' | 'always';
  lang: ReportLang;
  /** names listed per code at most */
  maxNames: number;
}

export interface SummaryPerson {
  id: string;
  name: string;
  phone: string;
  stations: readonly string[];
}

export interface SummaryMessage {
  person: SummaryPerson;
  site: string;
  text: string;
  link: string | null;
}

const names = (lang: ReportLang, rows: readonly RiskRankingRow[], max: number) =>
  rows.slice(0, max).map((r) => r.name).join(msg(lang, 'list_sep')) + (rows.length > max ? msg(lang, 'sms_more', { n: rows.length }) : '');

/**
 * The link of a summary: the dashboard's 风险码 page of the station (a person
 * of one station) or the ranking of the day — pages that ask a reader who is
 * not logged in to log in first, and link to the printable reports.
 */
export function reportLink(baseUrl: string | null, rows: readonly RiskRankingRow[], day: string): string | null {
  if (!baseUrl) return null;
  const base = baseUrl.replace(/#.*$/, '');
  if (rows.length === 1) return `${base}#/risk/${encodeURIComponent(rows[0]!.station)}?day=${day}`;
  return `${base}#/risk?day=${day}`;
}

/** The summaries of a day's ranking, one per person who gets one. Pure. */
export function dailySummaries(ranking: RiskRanking, people: readonly SummaryPerson[], o: SummaryOptions): SummaryMessage[] {
  const out: SummaryMessage[] = [];
  const lang = o.lang;
  for (const p of people) {
    const mine = p.stations.length ? ranking.rows.filter((r) => p.stations.includes(r.station)) : ranking.rows;
    if (!mine.length) continue;
    const red = mine.filter((r) => r.code === 'red');
    const yellow = mine.filter((r) => r.code === 'yellow');
    const flagged = mine.filter((r) => r.flagged);
    if (o.when === 'risk' && !red.length && !yellow.length && !flagged.length) continue;
    const green = mine.filter((r) => r.code === 'green').length;
    const parts = [msg(lang, 'sms_lead', { day: ranking.day }), msg(lang, 'sms_counts', { red: red.length, yellow: yellow.length, green })];
    if (red.length) parts.push(msg(lang, 'sms_red', { names: names(lang, red, o.maxNames) }));
    if (yellow.length) parts.push(msg(lang, 'sms_yellow', { names: names(lang, yellow, o.maxNames) }));
    if (flagged.length) parts.push(msg(lang, 'sms_flagged', { names: names(lang, flagged, o.maxNames) }));
    const link = reportLink(o.baseUrl, mine, ranking.day);
    if (link) parts.push(msg(lang, 'sms_link', { link }));
    const site = mine.length === 1 ? mine[0]!.name : msg(lang, p.stations.length ? 'sms_site_some' : 'sms_site_all', { n: mine.length });
    out.push({ person: p, site, text: parts.join(lang === 'zh' ? '；' : '; '), link });
  }
  return out;
}

/** Sends the day's summaries through the notification port; answers how many were accepted. */
export async function sendDailySummaries(
  deps: { notifier: Notifier; people: readonly SummaryPerson[]; log: Logger },
  ranking: RiskRanking,
  o: SummaryOptions,
): Promise<{ accepted: number; duplicates: number; rejected: number }> {
  const summaries = dailySummaries(ranking, deps.people, o);
  const reqs: NotifyRequest[] = summaries.map((s) => ({
    key: `risk-daily:${ranking.day}:${s.person.id}`,
    to: { phone: s.person.phone, name: s.person.name, person: s.person.id },
    template: 'risk_report',
    vars: { site: s.site, text: s.text },
    purpose: 'risk_report',
    ref: { kind: 'risk-daily', id: ranking.day },
    lang: o.lang,
  }));
  if (!reqs.length) return { accepted: 0, duplicates: 0, rejected: 0 };
  const r = await deps.notifier.enqueue(reqs);
  for (const x of r.rejected) deps.log.warn({ key: x.key, reason: x.reason }, 'risk summary SMS refused');
  deps.log.info({ day: ranking.day, accepted: r.accepted.length, duplicates: r.duplicates.length, rejected: r.rejected.length }, 'risk summary SMS handed over');
  return { accepted: r.accepted.length, duplicates: r.duplicates.length, rejected: r.rejected.length };
}
