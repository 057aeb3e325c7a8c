/** Alarm configuration: environment variables, where the rules come from, and a broken rules file stopping the start. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { configFromEnv, loadServerConfig } from '../../server/index.ts';
import { loadRulesDocument } from '../../server/alarms/index.ts';
import { startAlarmServer } from './helpers.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-alarm-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('alarm configuration', () => {
  it('reads GW_RULES_FILE and the escalation variables; per-severity limits keep their defaults; a bad one is reported with its path', () => {
    const c = loadServerConfig(
      configFromEnv({ GW_RULES_FILE: '/etc/gridwatch/rules.yaml', GW_ALARM_WEBHOOK_URL: 'http://sms.local/send', GW_ALARM_ESCALATE_AFTER_S: 'critical=60,high=120', GW_ALARM_TICK_MS: '500' }),
    );
    expect(c.rules.file).toBe('/etc/gridwatch/rules.yaml');
    expect(c.alarms.tickMs).toBe(500);
    expect(c.alarms.escalation).toMatchObject({ webhookUrl: 'http://sms.local/send', afterS: { critical: 60, high: 120, medium: 3600, low: 0 }, attempts: 4 });
    expect(loadServerConfig({}).alarms.escalation.webhookUrl).toBeUndefined();
    expect(() => loadServerConfig(configFromEnv({ GW_ALARM_ESCALATE_AFTER_S: 'critical=soon' }))).toThrow(/alarms\.escalation\.afterS\.critical/);
    expect(() => loadServerConfig(configFromEnv({ GW_ALARM_ESCALATE_AFTER_S: 'urgent=5' }))).toThrow(/alarms\.escalation\.afterS.*urgent/);
    expect(() => loadServerConfig(configFromEnv({ GW_ALARM_WEBHOOK_URL: 'not a url' }))).toThrow(/alarms\.escalation\.webhookUrl/);
  });

  it('rules come from the configured file, else from what an admin saved in the data directory, else the built-in defaults', async () => {
    const none = await loadRulesDocument(undefined, dir);
    expect(none.origin).toBe('defaults');
    expect(none.rules.map((r) => r.id)).toEqual([
      'u-deviation', 'u-low-sustained', 'f-deviation', 'u-unbalance', 'tx-load', 'comm-loss', 'sensor-comm-loss', 'outage', 'load-anomaly', 'spool-loss',
      'meter-voltage-loss', 'meter-current-loss', 'meter-reverse-flow', 'meter-counter-stuck', 'meter-counter-backwards', 'meter-clock-drift', 'meter-phase-sequence',
      'smoke', 'water', 'door-open', 'room-temp', 'room-humidity', 't-oil', 't-winding', 'line-load',
      'line-loss-high', 'line-loss-negative', 'line-loss-incomplete', 'call',
    ]);
    await writeFile(path.join(dir, 'rules.yaml'), 'version: 1\nrules:\n  - { id: tx-load, onDelayS: 60 }\n');
    const saved = await loadRulesDocument(undefined, dir);
    expect(saved.origin).toBe(path.join(dir, 'rules.yaml'));
    expect(saved.rules.find((r) => r.id === 'tx-load')).toMatchObject({ onDelayS: 60, offDelayS: 600 });
    await expect(loadRulesDocument(path.join(dir, 'missing.yaml'), dir)).rejects.toMatchObject({ code: 'GW_ERR_RULES_INVALID' });
  });

  it('a broken rules file stops the server at start, listing every issue by rule id', async () => {
    const err = await startAlarmServer({
      mqttUrl: inject('mqttUrl'),
      topologyYaml: 'sites: [{ id: al-cfg, name: C }]',
      rulesYaml: 'version: 1\nrules:\n  - { id: tx-load, levels: { hi: { value: 120 } } }\n  - { id: my-rule, kind: threshold, quantity: volts, levels: {} }\n',
    }).then(
      (ts) => ts.close().then(() => null),
      (e: unknown) => e as { code: string; issues: string[] },
    );
    expect(err?.code).toBe('GW_ERR_RULES_INVALID');
    expect(err!.issues).toEqual([
      'rule "tx-load" (rules[0], merged onto the default).levels.hihi.value: must be greater than hi (120); levels are ordered lolo < lo < hi < hihi',
      'rule "my-rule" (rules[1]).quantity[0]: expected a canonical quantity (contract/quantities.ts)',
    ]);
  });
});
