/**
 * The run's server bundle (test/harness/server-bundle.ts): each module keeps
 * its own source location for `import.meta.url`, the bundle runs under plain
 * node with the packages from node_modules, and remove() leaves nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildBundle, ROOT } from './server-bundle.ts';

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

describe('server bundle', () => {
  it('keeps each module its own import.meta.url, runs under plain node, and is removed', async () => {
    const bundle = await buildBundle('server/main.ts');
    try {
      expect(path.relative(path.join(ROOT, 'node_modules', '.cache'), bundle.file)).not.toMatch(/^\.\./);
      const text = await readFile(bundle.file, 'utf8');
      expect(text).not.toMatch(/\bimport\.meta\b/);
      // server/main.ts finds the dashboard next to its source, not next to the bundle
      expect(text).toContain(JSON.stringify(pathToFileURL(path.join(ROOT, 'server', 'main.ts')).href));
      // the packages stay imports, resolved from the repository's node_modules
      expect(text).toMatch(/from "fastify"/);
      // a missing config file: the server's own refusal (exit 2, the path named), so the whole entry loaded
      const missing = path.join(ROOT, 'node_modules', '.cache', 'no-such-config.yaml');
      const r = await run([bundle.file, missing]);
      expect(r.stderr).toContain(missing);
      expect(r.code).toBe(2);
    } finally {
      await bundle.remove();
    }
    expect(existsSync(path.dirname(bundle.file))).toBe(false);
  });
});
