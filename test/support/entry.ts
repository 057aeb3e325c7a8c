/**
 * node's arguments for one of our entry scripts as a child process: the run's
 * prebuilt bundle of it (test/harness/server-bundle.ts, built by the
 * integration run's global setup), else the source under tsx.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `entry` relative to the repository root, e.g. 'server/main.ts'. */
export function entryArgs(entry: string): string[] {
  // the unit project has no global setup: nothing bundled there
  const bundle = inject('bundles')?.[entry];
  return bundle ? [bundle] : ['--import', 'tsx', path.join(ROOT, entry)];
}
