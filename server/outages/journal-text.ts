/**
 * What a plan's or outage's journal entry says, as an event kind and its
 * parameters (pure): the dashboard renders the text in its own language
 * (dashboard/src/outages/text.ts, keys `oj_<kind>`); the entry's `what`
 * stays the English sentence for logs and older clients. Entries written
 * before this existed are read the same way, since it is taken from `what`.
 */
export interface JournalEvent {
  k: string;
  p: Record<string, string | number>;
}

type Pattern = [RegExp, string, readonly string[]];

const num = new Set(['n', 'line', 'added', 'removed', 'min', 'back', 'dark', 'unmeasured', 'call']);

const PATTERNS: readonly Pattern[] = [
  [/^created \((\d+) customers, late notice\)$/, 'created_late', ['n']],
  [/^created \((\d+) customers\)$/, 'created', ['n']],
  [/^imported \(CSV line (\d+), (\d+) customers\)$/, 'imported', ['line', 'n']],
  [/^confirmed again \((\d+) added\)$/, 'confirmed_again', ['n']],
  [/^confirmed \((\d+) customers\)$/, 'confirmed', ['n']],
  [/^cancelled$/, 'cancelled', []],
  [/^edited$/, 'edited', []],
  [/^notices handed over \((\d+) customers\)$/, 'notified', ['n']],
  [/^notices handed over: (outage_\w+) \((\d+) customers\)$/, 'handed_over', ['purpose', 'n']],
  [/^notices handed over: /, 'handed_over_many', []],
  [/^affected list changed by a reload: \+(\d+) −(\d+), confirm again$/, 'list_changed', ['added', 'removed']],
  [/^affected list recomputed$/, 'list_recomputed', []],
  [/^supply cut: in progress$/, 'plan_started', []],
  [/^supply still present (\d+) min after the start: not executed$/, 'not_executed', ['min']],
  [/^supply back: done$/, 'plan_done', []],
  [/^still dark after the planned end: overrun$/, 'overrun', []],
  [/^supply back after the overrun$/, 'overrun_back', []],
  [/^measured outage (\S+) reconciled$/, 'reconciled', ['outage']],
  [/^(feeder|transformer|line|meter) outage \((planned|fault|unknown)(?: (\S+?))?(?:, nested in (\S+))?\): (\d+) customers$/, 'opened', ['scope', 'cause', 'plan', 'nested', 'n']],
  [/^merged into (\S+)$/, 'merged', ['into']],
  [/^restored: (\d+) customers measured back, (\d+) still dark, (\d+) not measured$/, 'restored_verified', ['back', 'dark', 'unmeasured']],
  [/^restored$/, 'restored', []],
  [/^extended$/, 'extended', []],
  [/^repair call (\S+) linked$/, 'ticket_linked', ['ticket']],
  [/^finding (\S+)$/, 'finding', ['finding']],
];

/** The event of an entry's `what`; null for a sentence this table does not know (the client shows `what`). */
export function journalEvent(what: string): JournalEvent | null {
  for (const [re, k, names] of PATTERNS) {
    const m = re.exec(what);
    if (!m) continue;
    const p: Record<string, string | number> = {};
    names.forEach((name, i) => {
      const v = m[i + 1];
      if (v !== undefined) p[name] = num.has(name) ? Number(v) : v;
    });
    return { k, p };
  }
  return null;
}
