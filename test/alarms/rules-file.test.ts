/** The rules write-back edits the YAML document: comments and order survive a change through the API. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { updateRulesYaml } from '../../server/alarms/index.ts';

const TEXT = `# east district rules
version: 1
useDefaults: true # GB/T defaults underneath
rules:
  - id: tx-load
    onDelayS: 3600 # 1 h instead of 2 h
  # hot rooms (room sensors)
  - id: hot
    kind: threshold
    quantity: [ temp ] # the sensor
    levels: { hi: { value: 80, severity: high } }
`;

describe('rules write-back', () => {
  it("changes only what changed; comments and key order stay, a rule's comments move with it", () => {
    const doc = parse(TEXT);
    doc.rules[1].levels.hi.value = 70;
    const out = updateRulesYaml(TEXT, doc);
    expect(out).toBe(TEXT.replace('value: 80', 'value: 70'));
    expect(parse(out)).toEqual(doc);

    // a rule added before, one removed: the other's comments stay with it
    const doc2 = parse(out);
    doc2.rules = [{ id: 'new', kind: 'stale', afterS: 5 }, doc2.rules[1]];
    const out2 = updateRulesYaml(out, doc2);
    expect(parse(out2)).toEqual(doc2);
    expect(out2).toContain('# east district rules');
    expect(out2).toContain('useDefaults: true # GB/T defaults underneath');
    expect(out2).toContain('  # hot rooms (room sensors)\n  - id: hot');
    expect(out2).toContain('quantity: [ temp ] # the sensor');
    expect(out2).not.toContain('tx-load');
  });

  it('a key removed or changed in type; no file yet; a file that does not parse: written whole', () => {
    const doc = parse(TEXT);
    delete doc.rules[0].onDelayS;
    doc.rules[0].enabled = false;
    doc.rules[1].quantity = 'temp';
    const out = updateRulesYaml(TEXT, doc);
    expect(parse(out)).toEqual(doc);
    expect(out).toContain('# hot rooms');
    for (const text of [null, 'rules: [unclosed']) {
      const fresh = updateRulesYaml(text, doc);
      expect(parse(fresh)).toEqual(doc);
      expect(fresh.startsWith('# written by gridwatch')).toBe(true);
    }
  });
});
