/**
 * Test files that run without isolation: several files in one worker thread
 * in turn, their modules loaded once (per file, a fresh fork costs more time
 * than many of these files take). Only files that touch nothing beyond their
 * own values belong here: no services, servers, sockets, child processes,
 * timers left running, environment variables, module mocks, fake timers or
 * globals; test/harness/unit-files.test.ts checks each listed file for
 * those. Every other file runs in its own fork.
 */
export const UNIT_FILES: readonly string[] = [
  'test/alarms/rules-file.test.ts',
  'test/contract/boundaries.test.ts',
  'test/contract/call.test.ts',
  'test/contract/contract.test.ts',
  'test/contract/readings-depth.test.ts',
  'test/customers/topology-customers.test.ts',
  'test/dashboard/outages-model.test.ts',
  'test/dlt645/codec.test.ts',
  'test/dlt645/decoder.test.ts',
  'test/dlt645/fuzz.test.ts',
  'test/e2e/storyline.test.ts',
  'test/edge-agent/decode-plan.test.ts',
  'test/energy/compute.test.ts',
  'test/energy/line-loss-rule.test.ts',
  'test/energy/property.test.ts',
  'test/notify/journal.test.ts',
  'test/outages/loss-findings.test.ts',
  'test/outages/measured.test.ts',
  'test/quality/voltage.test.ts',
  'test/risk/alarm-indicators.test.ts',
  'test/risk/days-notices.test.ts',
  'test/risk/items-lifecycle.test.ts',
  'test/risk/model.test.ts',
  'test/risk/month.test.ts',
  'test/risk/outage-indicators.test.ts',
  'test/risk/score.test.ts',
  'test/rules/kind-shape.test.ts',
  'test/rules/schema.test.ts',
  'test/rules/spool-loss.test.ts',
  'test/security/agent-config.test.ts',
  'test/security/mqtt-policy.test.ts',
  'test/server/admission.test.ts',
  'test/server/config.test.ts',
  'test/server/derive.test.ts',
  'test/server/scope-agents.test.ts',
  'test/simulators/area-model.test.ts',
  'test/simulators/faults.test.ts',
  'test/simulators/meter-model.test.ts',
  'test/store/influx-line.test.ts',
  'test/harness/workers.test.ts',
];
