/**
 * Rules administration for the alarm service (service.ts): the rules
 * document and the file it lives in (rules-file.ts), read through the API,
 * changed whole or one rule at a time. A change is validated first (every
 * issue by rule id, RulesRejected), saved, and then handed to the service,
 * which installs it, journals and pushes it. Changes run one at a time, each
 * from the document the previous one left.
 */
import type { JsonObject, Rule, RuleSet } from '../rules/index.ts';
import { SerialQueue } from '../store/serial.ts';
import { GridwatchError } from '../errors.ts';
import { loadRulesDocument, rulesPath, saveRulesDocument, validateDocument } from './rules-file.ts';
import { RulesRejected } from './service-types.ts';

/** What rules administration needs of the service. */
export interface RulesHost {
  rules(): RuleSet;
  rule(ruleId: string): Readonly<Rule> | undefined;
  /** installs a validated, saved rule set (`ruleId`: the one rule changed, '' for the whole document); returns the change's seq */
  install(rules: RuleSet, document: JsonObject, by: string, ruleId: string, comment?: string): number;
}

export class RulesAdmin {
  readonly file: string;
  private document: JsonObject = {};
  private origin = 'defaults';
  private readonly queue = new SerialQueue();

  constructor(
    private readonly opts: { rulesFile?: string; dataDir: string },
    private readonly host: RulesHost,
  ) {
    this.file = rulesPath(opts.rulesFile, opts.dataDir);
  }

  /** The rules at start: the file, or the defaults (rules-file.ts). */
  async load(): Promise<{ rules: RuleSet; origin: string }> {
    const loaded = await loadRulesDocument(this.opts.rulesFile, this.opts.dataDir);
    this.document = loaded.document;
    this.origin = loaded.origin;
    return { rules: loaded.rules, origin: loaded.origin };
  }

  info(): { origin: string; file: string; document: JsonObject; rules: RuleSet } {
    return { origin: this.origin, file: this.file, document: this.document, rules: this.host.rules() };
  }

  rule(ruleId: string): Readonly<Rule> {
    const r = this.host.rule(ruleId);
    if (!r) throw new GridwatchError('GW_ERR_RULE_UNKNOWN', `no rule ${ruleId}`);
    return r;
  }

  /** Replaces the whole rules document. Validated first (every issue by rule id), saved, applied at once, journaled. */
  putRules(doc: unknown, by: string, comment?: string): Promise<{ seq: number; rules: RuleSet }> {
    return this.queue.run(() => this.change(doc, by, '', comment));
  }

  /** Adds or replaces one rule of the document (for a built-in rule's id: the keys that override it). */
  putRule(ruleId: string, body: unknown, by: string, comment?: string): Promise<{ seq: number; rules: RuleSet }> {
    return this.queue.run(() => this.putRuleNow(ruleId, body, by, comment));
  }

  private async putRuleNow(ruleId: string, body: unknown, by: string, comment?: string): Promise<{ seq: number; rules: RuleSet }> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RulesRejected([{ ruleId, path: `rule "${ruleId}"`, message: 'expected an object' }]);
    const b = body as JsonObject;
    if (b.id !== undefined && b.id !== ruleId) throw new RulesRejected([{ ruleId, path: `rule "${ruleId}".id`, message: `must be "${ruleId}" (the id in the URL)` }]);
    const doc = structuredClone(this.document);
    const list = Array.isArray(doc.rules) ? [...doc.rules] : [];
    const i = list.findIndex((x) => typeof x === 'object' && x !== null && !Array.isArray(x) && x.id === ruleId);
    const entry = { ...b, id: ruleId };
    if (i >= 0) list[i] = entry;
    else list.push(entry);
    doc.rules = list;
    return this.change(doc, by, ruleId, comment);
  }

  private async change(doc: unknown, by: string, ruleId: string, comment?: string): Promise<{ seq: number; rules: RuleSet }> {
    const r = validateDocument(doc);
    if (!r.ok) throw new RulesRejected(r.errors);
    const document = structuredClone(doc) as JsonObject;
    await saveRulesDocument(this.file, document);
    this.document = document;
    this.origin = this.file;
    const seq = this.host.install(r.rules, document, by, ruleId, comment);
    return { seq, rules: r.rules };
  }
}
