/**
 * Profile files: a user adds a meter by writing its register map as YAML or
 * JSON and naming the file in the agent config's `profileFiles`. Every file
 * is validated by the same schema as the built-ins; every problem of every
 * file is reported at once, each prefixed with the file it is in.
 *
 * This does file I/O; only entry points (main.ts, tools) call it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.ts';
import { createProfileRegistry, type ProfileRegistry } from './index.ts';
import { loadProfile } from './schema.ts';

/** Reads the files (relative paths from `baseDir`) and returns the built-ins plus them; a file's id may replace a built-in. */
export function loadProfileFiles(files: readonly string[], baseDir: string): ProfileRegistry {
  const docs: unknown[] = [];
  const issues: string[] = [];
  const seen = new Map<string, string>();
  for (const f of files) {
    const full = path.resolve(baseDir, f);
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(full, 'utf8'));
    } catch (err) {
      issues.push(`${f}: cannot read: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    try {
      const p = loadProfile(doc);
      const other = seen.get(p.id);
      if (other) issues.push(`${f}: id: profile "${p.id}" is already defined in ${other}`);
      seen.set(p.id, f);
      docs.push(doc);
    } catch (err) {
      if (err instanceof ConfigError) for (const i of err.issues) issues.push(`${f}: ${i}`);
      else throw err;
    }
  }
  if (issues.length) throw new ConfigError('device profile files', issues, 'GW_ERR_PROFILE_INVALID');
  return createProfileRegistry(docs);
}
