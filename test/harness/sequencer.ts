/**
 * Test file order: longest first, so that on two workers the last file to
 * start is a short one and no worker sits idle while the other finishes a
 * two-minute file.
 *
 * vitest's own order is the longest-first one when its results cache
 * (node_modules/.vite/vitest) knows every file's duration; on a fresh clone
 * (CI after `npm ci`) it knows none and falls back to the largest file first,
 * which put the two-minute demo test (a small file) among the last to start.
 * So: files with a cached duration are ordered by it; files without one take
 * their estimate from SLOW_FILES below (seconds on the 2-core CI machine), and
 * a file in neither counts as quick (a few seconds), largest first.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { relative } from 'node:path';
import { statSync } from 'node:fs';

/** Approximate seconds per file on the CI machine; only the slow ones need to be here. */
export const SLOW_FILES: Readonly<Record<string, number>> = {
  'test/cluster/failover.test.ts': 60,
  'test/cluster/start-retry.test.ts': 30,
  'test/server/influx-outage.test.ts': 32,
  'test/cluster/nats-node.test.ts': 60,
  'test/alarms/faults-crash.test.ts': 85,
  'test/browser/outages.test.ts': 55,
  // the demo in a browser and the storyline through the API, on one demo run
  'test/browser/demo.test.ts': 120,
  'test/edge-agent/broker-outage.test.ts': 30,
  'test/alarms/faults-broker.test.ts': 40,
  'test/browser/alarms.test.ts': 40,
  // a 3-node NATS cluster and two servers as processes, the dashboard on one of them
  'test/browser/cluster.test.ts': 50,
  'test/alarms/faults-restart.test.ts': 40,
  'test/browser/energy.test.ts': 38,
  'test/notify/kill9.test.ts': 30,
  'test/e2e/demo-log.test.ts': 28,
  'test/outages/scenario.test.ts': 28,
  'test/security/users.test.ts': 28,
  'test/server/access-cli.test.ts': 25,
  'test/browser/reconnect.test.ts': 20,
  'test/browser/dashboard.test.ts': 18,
  'test/dlt645/bus.test.ts': 18,
  'test/security/embedded-broker.test.ts': 18,
  'test/security/hostile-input.test.ts': 17,
  'test/harness/cluster.test.ts': 25,
  'test/cluster/risk-singleton.test.ts': 40,
  'test/cluster/alarm-durability.test.ts': 58,
  'test/cluster/pool-singleton.test.ts': 35,
  'test/cluster/rules-sync.test.ts': 20,
  'test/security/agents-cli.test.ts': 15,
  'test/security/mosquitto.test.ts': 14,
  'test/outages/reload.test.ts': 22,
  'test/edge-agent/agent-kill.test.ts': 16,
  'test/edge-agent/hostile.test.ts': 16,
  'test/energy/routes.test.ts': 16,
  'test/server/heap.test.ts': 15,
  'test/e2e/demo.test.ts': 15,
  'test/contract/cli.test.ts': 15,
  'test/alarms/settling.test.ts': 15,
  'test/edge-agent/memory.test.ts': 14,
};

/** Seconds for a file neither cached nor listed: small, and a larger file a little longer. */
function quickEstimate(file: string): number {
  try {
    return Math.min(5, statSync(file).size / 4_000);
  } catch {
    return 0;
  }
}

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const seconds = new Map<TestSpecification, number>();
    for (const spec of files) {
      const rel = relative(root, spec.moduleId).split('\\').join('/');
      const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${rel}`);
      // a file that failed last time runs early (its result matters most), as vitest does
      if (cached?.failed) seconds.set(spec, 1e6 + cached.duration / 1000);
      else if (cached && cached.duration > 0) seconds.set(spec, cached.duration / 1000);
      else seconds.set(spec, SLOW_FILES[rel] ?? quickEstimate(spec.moduleId));
    }
    return [...files].sort((a, b) => seconds.get(b)! - seconds.get(a)!);
  }
}
