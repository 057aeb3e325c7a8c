/**
 * Rules administration for the alarm service (service.ts): the rules
 * document and the file it lives in (rules-file.ts), read through the API,
 * changed whole or one rule at a time. A change is validated first (every
 * issue by rule id, RulesRejected), saved, and then handed to the service,
 * which installs it, journals and pushes it. Changes run one at a time, each
 * from the document the previous one left.
 *
 * Cluster mode (server/cluster/rules-sync.ts): the document lives in a
 * replicated KV bucket, a revision per change. A change is validated here,
 * then written there with compare-and-set on the revision it was based on
 * (the caller's `revision`, else the one in force here): another server's
 * change in between refuses it (RulesConflict, HTTP 409), never overwritten.
 * Only then is it saved, installed and journaled here. The other servers
 * apply each revision they see (`applyShared`) through the same install,
 * without journaling: the server a change was made on journals it.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
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
  /** cluster mode: installs a revision another server made (and journaled): the same install, not journaled here */
  installShared(rules: RuleSet, document: JsonObject, by: string, ruleId: string): void;
}

/** What a rules change says about itself, kept with each revision of the shared document. */
export interface RulesChange {
  by: string;
  /** the one rule changed, '' for the whole document */
  ruleId: string;
  comment?: string;
}

/** One revision of the shared document (cluster mode). */
export interface SharedRevision {
  revision: number;
  document: JsonObject;
  change: RulesChange;
  /** the server the change was made on */
  from: string;
}

/** Cluster mode: where the rules document is shared between the servers (server/cluster/rules-sync.ts). */
export interface SharedRules {
  /** Writes `document` as the revision after `base`; RulesConflict when it moved on, a retryable GridwatchError when NATS does not answer. */
  commit(document: JsonObject, change: RulesChange, base: number): Promise<number>;
  /** the latest revision, or null when there is none */
  latest(): Promise<SharedRevision | null>;
  /** a change made here is in force and journaled at `seq`: the other servers' clients get its frame */
  announce(change: RulesChange & { revision: number; seq: number; at: number }): void;
}

/** A change based on a revision that is no longer the latest (cluster mode): HTTP 409 with the current revision. */
export class RulesConflict extends GridwatchError {
  constructor(
    readonly base: number | null,
    readonly revision: number | null,
  ) {
    super('GW_ERR_RULES_CONFLICT', `rules changed meanwhile: the change is based on revision ${base ?? 'none'}, the cluster's rules are at revision ${revision ?? 'unknown'}; read them again and repeat the change`);
  }
}

export class RulesAdmin {
  readonly file: string;
  private document: JsonObject = {};
  private origin = 'defaults';
  private readonly queue = new SerialQueue();
  /** cluster mode: the shared document and the revision in force here */
  private shared: SharedRules | null = null;
  private revision: number | null = null;
  private log: Logger | null = null;

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

  info(): { origin: string; file: string; document: JsonObject; rules: RuleSet; revision: number | null } {
    return { origin: this.origin, file: this.file, document: this.document, rules: this.host.rules(), revision: this.revision };
  }

  rule(ruleId: string): Readonly<Rule> {
    const r = this.host.rule(ruleId);
    if (!r) throw new GridwatchError('GW_ERR_RULE_UNKNOWN', `no rule ${ruleId}`);
    return r;
  }

  /**
   * Replaces the whole rules document. Validated first (every issue by rule id), saved, applied at once, journaled.
   * Cluster mode: `revision` is the revision the change is based on (default: the one in force here).
   */
  putRules(doc: unknown, by: string, comment?: string, revision?: number): Promise<Changed> {
    return this.queue.run(async () => {
      await this.catchUp(revision);
      return this.change(doc, by, '', comment);
    });
  }

  /** Adds or replaces one rule of the document (for a built-in rule's id: the keys that override it). */
  putRule(ruleId: string, body: unknown, by: string, comment?: string, revision?: number): Promise<Changed> {
    return this.queue.run(() => this.putRuleNow(ruleId, body, by, comment, revision));
  }

  private async putRuleNow(ruleId: string, body: unknown, by: string, comment?: string, revision?: number): Promise<Changed> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RulesRejected([{ ruleId, path: `rule "${ruleId}"`, message: 'expected an object' }]);
    // the rule goes into the document of the revision the change is based on
    await this.catchUp(revision);
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

  private async change(doc: unknown, by: string, ruleId: string, comment?: string): Promise<Changed> {
    const r = validateDocument(doc);
    if (!r.ok) throw new RulesRejected(r.errors);
    const document = structuredClone(doc) as JsonObject;
    if (this.shared) {
      // in force on every server once written: the file here follows, a failure to save it is only logged
      const change: RulesChange = comment ? { by, ruleId, comment } : { by, ruleId };
      this.revision = await this.shared.commit(document, change, this.revision ?? 0);
      await saveRulesDocument(this.file, document).catch((err) => this.log?.warn({ err, file: this.file, revision: this.revision }, 'rules file not saved; the cluster\'s rules are in force'));
    } else {
      await saveRulesDocument(this.file, document);
    }
    this.document = document;
    this.origin = this.file;
    const seq = this.host.install(r.rules, document, by, ruleId, comment);
    if (this.shared && this.revision !== null) this.shared.announce({ by, ruleId, ...(comment ? { comment } : {}), revision: this.revision, seq, at: Date.now() });
    return { seq, rules: r.rules, revision: this.revision };
  }

  // ---------------------------------------------------------------- cluster mode

  /** Cluster mode: changes go through `shared` from here on; `revision` (the document here) is in force. */
  share(shared: SharedRules, log: Logger): void {
    this.shared = shared;
    this.log = log;
  }

  /** Cluster mode: takes `revision` as in force here without installing anything (the document here is the same). */
  adopt(revision: number): void {
    this.revision = Math.max(this.revision ?? 0, revision);
  }

  /** Whether `document` is the one in force here (key order aside). */
  holds(document: JsonObject): boolean {
    return isDeepStrictEqual(this.document, document);
  }

  /**
   * A revision of the shared document: installed here as a change made
   * here is (rule state of the rules kept), not journaled; saved to the
   * file; one not newer than the one in force is skipped ('in force').
   * 'refused' when it does not validate here (logged; the rules in force
   * stay). `journal`:
   * a change made here whose write was answered with an error though it
   * was stored, journaled here as the server it was made on.
   */
  applyShared(rev: SharedRevision, journal = false): Promise<'applied' | 'in force' | 'refused'> {
    return this.queue.run(() => this.applySharedNow(rev, journal));
  }

  private async applySharedNow(rev: SharedRevision, journal = false): Promise<'applied' | 'in force' | 'refused'> {
    if (this.revision !== null && rev.revision <= this.revision) return 'in force';
    const r = validateDocument(rev.document);
    if (!r.ok) {
      this.log?.error({ revision: rev.revision, from: rev.from, issues: r.errors.slice(0, 5) }, 'rules revision of the cluster refused here; the rules in force stay');
      return 'refused';
    }
    const document = structuredClone(rev.document);
    await saveRulesDocument(this.file, document).catch((err) => this.log?.warn({ err, file: this.file, revision: rev.revision }, 'rules file not saved; the cluster\'s rules are in force'));
    this.document = document;
    this.origin = this.file;
    this.revision = rev.revision;
    if (journal) {
      const seq = this.host.install(r.rules, document, rev.change.by, rev.change.ruleId, rev.change.comment);
      this.shared?.announce({ ...rev.change, revision: rev.revision, seq, at: Date.now() });
    } else this.host.installShared(r.rules, document, rev.change.by, rev.change.ruleId);
    return 'applied';
  }

  /**
   * Cluster mode, a change based on `base`: when that is newer than the
   * revision in force here (not seen here yet), the latest is applied first;
   * a base that is not the latest refuses the change.
   */
  private async catchUp(base: number | undefined): Promise<void> {
    if (!this.shared || base === undefined || base === this.revision) return;
    const latest = await this.shared.latest();
    if (latest && latest.revision === base) await this.applySharedNow(latest);
    if (base !== this.revision) throw new RulesConflict(base, latest?.revision ?? this.revision);
  }
}

export interface Changed {
  seq: number;
  rules: RuleSet;
  /** cluster mode: the revision of the shared document the change made; null outside cluster mode */
  revision: number | null;
}
