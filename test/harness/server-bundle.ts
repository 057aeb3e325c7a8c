/**
 * The server's entry (`server/main.ts`) and the other entry scripts tests run
 * many times as child processes, bundled once per test run (the integration
 * run's global setup; test/support/entry.ts picks them).
 *
 * A child under `node --import tsx` spends most of its start in tsx: every
 * module, ours and every package's, goes through the loader hooks, and our
 * .ts files are transformed. The bundle is our code already compiled into one
 * ES module with the packages left as imports; node loads it and the packages
 * with no loader in between (a child's start takes less than half the time).
 * It is built from the working tree at the start of the run, so it is the
 * code under test, and removed at the end of the run.
 *
 * The bundle lives in node_modules/.cache/ so that its package imports
 * resolve to the repository's node_modules, each run in its own directory
 * (runs in the same tree do not share one). `import.meta.url` (and
 * `.dirname`, `.filename`) of each module is replaced by that of its source
 * file: paths the code takes from its own location stay the same.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServerBundle {
  /** the bundled entry: `node <file> <args>` runs as `node --import tsx <entry> <args>` does */
  readonly file: string;
  /** removes the bundle's directory */
  remove(): Promise<void>;
}

/** Each of our modules gets its own source location for `import.meta.url`, `.dirname`, `.filename`. */
const ownImportMeta: Plugin = {
  name: 'own-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const contents = source
        .replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href))
        .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(path.dirname(args.path)))
        .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path));
      return { contents, loader: 'ts' };
    });
  },
};

/** Bundles `entry` (relative to the repository root) into a fresh directory under node_modules/.cache/. */
export async function buildBundle(entry = 'server/main.ts'): Promise<ServerBundle> {
  const parent = path.join(ROOT, 'node_modules', '.cache', 'gridwatch-test');
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, 'bundle-'));
  const file = path.join(dir, `${path.basename(entry, path.extname(entry))}.mjs`);
  try {
    await build({
      entryPoints: [path.join(ROOT, entry)],
      absWorkingDir: ROOT,
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // packages stay imports, resolved by node from node_modules (native ones among them)
      packages: 'external',
      plugins: [ownImportMeta],
      logLevel: 'silent',
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}
