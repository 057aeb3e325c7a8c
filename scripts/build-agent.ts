/**
 * Builds the edge agent into one self-contained directory, `dist/agent/`, that
 * runs on a stock Node 20 with no `npm ci` on the gateway:
 *
 *   gridwatch-agent.cjs        edge-agent/main.ts and the packages it runs with, one CommonJS script (esbuild)
 *   gridwatch-agent-config.cjs reading and checking the config (edge-agent/config-files.ts: zod, yaml, the
 *                              schemas), required once at start and let go (edge-agent/config-once.ts)
 *   mqtt-ws.cjs, mqtt-tls.cjs, mqtt-socks.cjs, modbus-serial.cjs, serialport.cjs, worker-timers.cjs,
 *   lru-cache.cjs              what only some configs use, required on first use (SPLIT_FILES)
 *   serialport/prebuilds/…     serialport's native bindings for linux x64, arm64 and arm (glibc and musl)
 *   gridwatch-agent            launcher: node with the agent's memory flags (AGENT_NODE_FLAGS)
 *   gridwatch-agent.service    systemd unit
 *   agent.example.yaml         example config
 *
 *   npm run build:agent          (or: npx tsx scripts/build-agent.ts [outDir])
 *
 * V8 keeps the source text of every script it ran for as long as any of its
 * functions can run, and node's ES module loader is a dozen modules more than
 * a CommonJS script needs (about 2 MB resident): the agent is CommonJS, and
 * its script holds only what every agent runs.
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
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { lazyModules, leanPackages, leanZod, SPLIT_FILES } from './agent-bundle-plugins.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const INSTALL = path.join(ROOT, 'edge-agent', 'install');

/**
 * Node flags the agent runs with (written into the launcher; why each, with
 * the measurements: docs/edge-agent.md#memory): a young generation of 1 MB
 * semi-spaces instead of V8's default of up to 16 MB (the agent's garbage is
 * short-lived: a poll's buffers and readings), an old generation capped well
 * below the unit's MemoryMax, so V8 collects before the heap grows instead
 * of after, one V8 background thread instead of four (each kept its own
 * malloc arena: 4–6 MB resident together), V8's heuristics that favour
 * memory over speed (2–3 MB less heap committed, CPU per tag unchanged), and
 * no allocation-site pretenuring (objects of a site that survived the
 * start-up's slow first polls were then allocated in the old generation for
 * good: a poll's values, a Modbus answer's array, garbage there at once).
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=48', '--v8-pool-size=1', '--optimize-for-size', '--no-allocation-site-pretenuring'] as const;

/**
 * glibc malloc settings the launcher sets unless already set (musl ignores
 * them): one arena for the process's few threads, and memory freed at the
 * top of the heap given back from 64 kB on, not 128 kB, with no extra pad.
 * node's own allocations (socket and file buffers, V8's compiler zones) come
 * from malloc: about 1 MB less of it resident at 1 s with 1,024 meters.
 */
export const AGENT_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1', MALLOC_TRIM_THRESHOLD_: '65536', MALLOC_TOP_PAD_: '0' };

/** serialport's prebuilt bindings shipped with the bundle: the gateways' platforms */
const PREBUILD_PLATFORMS = ['linux-x64', 'linux-arm64', 'linux-arm'] as const;

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
const load = () => (real ??= require('./serialport.cjs'));
class SerialPort {
  constructor(...args) { return new (load().SerialPort)(...args); }
  static list() { return load().SerialPort.list(); }
}
module.exports = { SerialPort };
`;
const lazySerialport: Plugin = {
  name: 'lazy-serialport',
  setup(b) {
    // serialport.cjs itself (its entry requires the real package) has the real one
    b.onResolve({ filter: /^serialport$/ }, (args) => (args.importer === '<stdin>' ? undefined : { path: 'serialport', namespace: 'lazy-serialport' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-serialport' }, () => ({ contents: LAZY_SERIALPORT, loader: 'js', resolveDir: ROOT }));
  },
};

/** The agent's script */
const MAIN = 'gridwatch-agent.cjs';
/** Reading and checking the config: loaded once at start */
const CONFIG_SCRIPT = 'gridwatch-agent-config.cjs';

/**
 * edge-agent/config-once.ts in the bundle: the config script is required,
 * called once and let go. Neither its module, its exports nor what it left on
 * globalThis (zod's registry) stay reachable, so V8 can collect its code, its
 * schemas and its source text.
 */
const CONFIG_ONCE = `export async function loadConfigOnce(file) {
  const script = require('node:path').join(__dirname, ${JSON.stringify(CONFIG_SCRIPT)});
  const globals = new Set(Object.getOwnPropertyNames(globalThis));
  try {
    return await require(script).loadConfigFiles(file);
  } finally {
    const mod = require.cache[script];
    delete require.cache[script];
    const children = require.main?.children ?? [];
    if (children.includes(mod)) children.splice(children.indexOf(mod), 1);
    for (const k of Object.getOwnPropertyNames(globalThis)) if (!globals.has(k)) Reflect.deleteProperty(globalThis, k);
  }
}
`;
const configOnce: Plugin = {
  name: 'config-once',
  setup(b) {
    b.onLoad({ filter: /[\\/]edge-agent[\\/]config-once\.ts$/ }, () => ({ contents: CONFIG_ONCE, loader: 'js' }));
  },
};

export interface BuiltFile {
  bytes: number;
  /** every source file in it, relative to the repository */
  inputs: string[];
}

export interface BuiltAgent {
  dir: string;
  /** the agent's script, gridwatch-agent.cjs */
  bundle: string;
  launcher: string;
  bundleBytes: number;
  /** every source file in any of the scripts, relative to the repository */
  inputs: string[];
  /** each script by file name: the agent's, the config script, the split files */
  files: Record<string, BuiltFile>;
}

export async function buildAgent(outDir = path.join(ROOT, 'dist', 'agent')): Promise<BuiltAgent> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const common: BuildOptions = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // import() of what is not in the script is a require(): no ES module loader
    supported: { 'dynamic-import': false },
    // optional speed-ups of ws that mqtt.js may try to load; absent is fine
    external: ['bufferutil', 'utf-8-validate'],
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
  };
  const shared = [serialportBindings, lazySerialport, lazyModules, leanPackages];
  // each script says first what it is (a heap snapshot shows the start of a script's source text)
  const scripts: Array<[string, string, BuildOptions]> = [
    [MAIN, 'the gridwatch edge agent', { entryPoints: [path.join(ROOT, 'edge-agent', 'main.ts')], plugins: [configOnce, ...shared] }],
    [
      CONFIG_SCRIPT,
      "the gridwatch edge agent's config loader, required once at start and let go",
      { entryPoints: [path.join(ROOT, 'edge-agent', 'config-files.ts')], plugins: [...shared, leanZod(ROOT, ['edge-agent', 'contract'])] },
    ],
    ...SPLIT_FILES.map((f): [string, string, BuildOptions] => [
      f.file,
      `${f.what} for the gridwatch edge agent, required on first use`,
      { stdin: { contents: `module.exports = require(${JSON.stringify(f.request)});`, resolveDir: path.join(ROOT, f.from), loader: 'js' }, plugins: shared },
    ]),
  ];
  const files: Record<string, BuiltFile> = {};
  for (const [file, what, options] of scripts) {
    // the agent ran as an ES module before, in strict mode throughout: so it stays
    const banner = { js: `'use strict';\n// ${file}: ${what}` };
    const result = await build({ ...common, ...options, banner, outfile: path.join(outDir, file) });
    if (result.errors.length) throw new Error(`build-agent: ${file}: ${result.errors.length} errors`);
    // what is in the output (a module left out whole is still an input of the build), not the plugins' shims
    const output = Object.entries(result.metafile?.outputs ?? {}).find(([out]) => out.endsWith(file))?.[1];
    const inputs = Object.entries(output?.inputs ?? {})
      .filter(([f, i]) => i.bytesInOutput > 0 && !f.includes(':') && f !== '<stdin>')
      .map(([f]) => path.relative(ROOT, path.resolve(ROOT, f)));
    files[file] = { bytes: (await stat(path.join(outDir, file))).size, inputs };
  }
  const bundle = path.join(outDir, MAIN);

  const prebuilds = path.join(ROOT, 'node_modules', '@serialport', 'bindings-cpp', 'prebuilds');
  for (const p of PREBUILD_PLATFORMS) await cp(path.join(prebuilds, p), path.join(outDir, 'serialport', 'prebuilds', p), { recursive: true });
  await copyFile(path.join(ROOT, 'node_modules', '@serialport', 'bindings-cpp', 'LICENSE'), path.join(outDir, 'serialport', 'LICENSE')).catch(() => undefined);

  const launcher = path.join(outDir, 'gridwatch-agent');
  const template = await readFile(path.join(INSTALL, 'gridwatch-agent.sh'), 'utf8');
  const mallocEnv = Object.entries(AGENT_MALLOC_ENV)
    .map(([k, v]) => `: "\${${k}:=${v}}"; export ${k}`)
    .join('\n');
  await writeFile(launcher, template.replace('@NODE_FLAGS@', AGENT_NODE_FLAGS.join(' ')).replace('@MALLOC_ENV@', mallocEnv));
  await chmod(launcher, 0o755);
  await copyFile(path.join(INSTALL, 'gridwatch-agent.service'), path.join(outDir, 'gridwatch-agent.service'));
  await copyFile(path.join(INSTALL, 'agent.example.yaml'), path.join(outDir, 'agent.example.yaml'));
  const inputs = [...new Set(Object.values(files).flatMap((f) => f.inputs))].sort();
  return { dir: outDir, bundle, launcher, bundleBytes: files[MAIN]!.bytes, inputs, files };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildAgent(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  process.stdout.write(
    `built ${path.relative(process.cwd(), out.dir) || '.'}/: ${Object.entries(out.files).map(([f, b]) => `${f} ${kib(b.bytes)}`).join(', ')}, launcher, systemd unit, example config, serialport prebuilds (${PREBUILD_PLATFORMS.join(', ')})\n`,
  );
}
