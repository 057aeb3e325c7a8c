/**
 * Builds the edge agent into one self-contained directory, `dist/agent/`, that
 * runs on a stock Node 20 with no `npm ci` on the gateway:
 *
 *   gridwatch-agent.mjs        edge-agent/main.ts and every package it uses, one ES module (esbuild)
 *   serialport/prebuilds/…     serialport's native bindings for linux x64, arm64 and arm (glibc and musl)
 *   gridwatch-agent            launcher: node with the agent's memory flags (AGENT_NODE_FLAGS)
 *   gridwatch-agent.service    systemd unit
 *   agent.example.yaml         example config
 *
 *   npm run build:agent          (or: npx tsx scripts/build-agent.ts [outDir])
 *
 * serialport (used by modbus-serial for Modbus RTU and by the DL/T 645 serial
 * link) loads its binding with node-gyp-build from its package directory; in
 * the bundle that module is replaced by one that loads it from
 * `serialport/` next to the bundle. What else the bundle changes about how
 * packages load, for a smaller running agent: scripts/agent-bundle-plugins.ts.
 */
import { chmod, copyFile, cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { lazyModules, leanPackages, leanZod } from './agent-bundle-plugins.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const INSTALL = path.join(ROOT, 'edge-agent', 'install');

/**
 * Node flags the agent runs with (written into the launcher; why each, with
 * the measurements: docs/edge-agent.md#memory): a young generation of 1 MB
 * semi-spaces instead of V8's default of up to 16 MB (the agent's garbage is
 * short-lived: a poll's buffers and readings), an old generation capped well
 * below the unit's MemoryMax, so V8 collects before the heap grows instead
 * of after, one V8 background thread instead of four (each kept its own
 * malloc arena: 4–6 MB resident together), and V8's heuristics that favour
 * memory over speed (2–3 MB less heap committed, CPU per tag unchanged).
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=48', '--v8-pool-size=1', '--optimize-for-size'] as const;

/** serialport's prebuilt bindings shipped with the bundle: the gateways' platforms */
const PREBUILD_PLATFORMS = ['linux-x64', 'linux-arm64', 'linux-arm'] as const;

const BANNER = [
  "import { createRequire as __gwCreateRequire } from 'node:module';",
  "import { fileURLToPath as __gwFileURLToPath } from 'node:url';",
  "import { dirname as __gwDirname } from 'node:path';",
  // the bundled CommonJS packages call require() and read __dirname
  'const require = __gwCreateRequire(import.meta.url);',
  'const __filename = __gwFileURLToPath(import.meta.url);',
  'const __dirname = __gwDirname(__filename);',
].join('\n');

/** serialport's binding loader, pointed at the prebuilds next to the bundle */
const serialportBindings: Plugin = {
  name: 'serialport-bindings',
  setup(b) {
    b.onLoad({ filter: /[\\/]@serialport[\\/]bindings-cpp[\\/]dist[\\/]serialport-bindings\.js$/ }, () => ({
      contents: "'use strict';\nexports.binding = require('node-gyp-build')(require('node:path').join(__dirname, 'serialport'));\n",
      loader: 'js',
      resolveDir: path.join(ROOT, 'node_modules', '@serialport', 'bindings-cpp', 'dist'),
    }));
  },
};

/**
 * serialport, loaded when the first serial port is opened: modbus-serial and
 * the DL/T 645 serial link import it at the top, which would load its native
 * binding (and its code) in every agent, also one with no meter on a serial
 * line. The shim's SerialPort builds the real one.
 */
const LAZY_SERIALPORT = `'use strict';
let real;
const load = () => (real ??= require('serialport'));
class SerialPort {
  constructor(...args) { return new (load().SerialPort)(...args); }
  static list() { return load().SerialPort.list(); }
}
module.exports = { SerialPort };
`;
const lazySerialport: Plugin = {
  name: 'lazy-serialport',
  setup(b) {
    // the shim's own require goes to the real package
    b.onResolve({ filter: /^serialport$/ }, (args) => (args.namespace === 'lazy-serialport' ? undefined : { path: 'serialport', namespace: 'lazy-serialport' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-serialport' }, () => ({ contents: LAZY_SERIALPORT, loader: 'js', resolveDir: ROOT }));
  },
};

export interface BuiltAgent {
  dir: string;
  bundle: string;
  launcher: string;
  bundleBytes: number;
  /** every source file in the bundle, relative to the repository */
  inputs: string[];
}

export async function buildAgent(outDir = path.join(ROOT, 'dist', 'agent')): Promise<BuiltAgent> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const bundle = path.join(outDir, 'gridwatch-agent.mjs');
  const result = await build({
    entryPoints: [path.join(ROOT, 'edge-agent', 'main.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: BANNER },
    // optional speed-ups of ws that mqtt.js may try to load; absent is fine
    external: ['bufferutil', 'utf-8-validate'],
    plugins: [serialportBindings, lazySerialport, lazyModules, leanPackages, leanZod(ROOT, ['edge-agent', 'contract'])],
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
  });
  if (result.errors.length) throw new Error(`build-agent: ${result.errors.length} errors`);

  const prebuilds = path.join(ROOT, 'node_modules', '@serialport', 'bindings-cpp', 'prebuilds');
  for (const p of PREBUILD_PLATFORMS) await cp(path.join(prebuilds, p), path.join(outDir, 'serialport', 'prebuilds', p), { recursive: true });
  await copyFile(path.join(ROOT, 'node_modules', '@serialport', 'bindings-cpp', 'LICENSE'), path.join(outDir, 'serialport', 'LICENSE')).catch(() => undefined);

  const launcher = path.join(outDir, 'gridwatch-agent');
  const template = await readFile(path.join(INSTALL, 'gridwatch-agent.sh'), 'utf8');
  await writeFile(launcher, template.replace('@NODE_FLAGS@', AGENT_NODE_FLAGS.join(' ')));
  await chmod(launcher, 0o755);
  await copyFile(path.join(INSTALL, 'gridwatch-agent.service'), path.join(outDir, 'gridwatch-agent.service'));
  await copyFile(path.join(INSTALL, 'agent.example.yaml'), path.join(outDir, 'agent.example.yaml'));
  const inputs = Object.keys(result.metafile.inputs).map((f) => path.relative(ROOT, path.resolve(ROOT, f)));
  return { dir: outDir, bundle, launcher, bundleBytes: (await stat(bundle)).size, inputs };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildAgent(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  process.stdout.write(`built ${path.relative(process.cwd(), out.dir) || '.'}/: gridwatch-agent.mjs ${(out.bundleBytes / 1024).toFixed(0)} KiB, launcher, systemd unit, example config, serialport prebuilds (${PREBUILD_PLATFORMS.join(', ')})\n`);
}
