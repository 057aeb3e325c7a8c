/**
 * esbuild plugins of the agent bundle (scripts/build-agent.ts) that keep the
 * running agent small. Each one changes how a package is loaded, never what it
 * does; a patch whose text is no longer found in the package fails the build
 * (an upgrade must be looked at, not silently bundled unpatched).
 *
 * - Lazy modules and split files: parts of mqtt.js that only some
 *   configurations use (the WebSocket transport and the `ws` package, TLS,
 *   SOCKS proxies, worker-timers, lru-cache), modbus-serial and serialport
 *   are files of their own next to the agent's script (SPLIT_FILES), required
 *   on first use through a small shim: neither their source text nor their
 *   functions and objects (about 3 MB of V8 heap together) are in an agent
 *   that does not use them. modbus-serial's Modbus servers and ports the
 *   agent never opens are evaluated on first use.
 * - zod (in the config loader, gridwatch-agent-config.cjs): the agent's code
 *   uses `z` as a namespace (`z.strictObject(...)`), and a namespace
 *   re-exported whole keeps all of zod in the script (its 40 locales, JSON
 *   Schema conversion, …): 580 kB of source. `zod` is bundled as an object of
 *   only the members the agent's sources name, found by scanning them.
 * - `debug` (mqtt.js, mqtt-packet and modbus-serial make their debuggers when
 *   loaded, and making one opens process.stderr to ask whether it is a
 *   terminal): without DEBUG in the environment the debuggers do nothing and
 *   the package is not loaded; with DEBUG set, the real package as before.
 * - mqtt-packet's parser uses only bl's BufferList, not its stream (and the
 *   second copy of readable-stream under it).
 * - mqtt-packet caches the encoded length of every packet shorter than 16 kB
 *   as a 4-byte slice of Node's shared 8 kB Buffer pool: each cached length
 *   keeps a whole pool slab alive (1.5 MB after a minute at 1,024 meters).
 *   The slices get their own small allocation instead.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Plugin } from 'esbuild';

/** Replaces `from` by `to` in the file's text; throws if `from` is not there. */
function patched(text: string, file: string, edits: readonly (readonly [string, string])[]): string {
  for (const [from, to] of edits) {
    if (!text.includes(from)) throw new Error(`build-agent: ${file} no longer contains ${JSON.stringify(from)}; check the patch against this version of the package`);
    text = text.split(from).join(to);
  }
  return text;
}

/** A CommonJS shim whose exports require `real` (a split file next to the script) on first call. */
function lazyShim(real: string, exportsCode: string): string {
  return `'use strict';\nlet real;\nconst load = () => (real ??= require(${JSON.stringify(real)}));\n${exportsCode}\n`;
}

interface LazyModule {
  /** the required path as written, e.g. `./ws` */
  request: string;
  /** the requiring file, relative to node_modules */
  importer: RegExp;
  /** the directory the request is resolved from, relative to the repository */
  from: string;
  /** the file of its own next to the agent's script that holds the module (SPLIT_FILES), and what it is */
  file: string;
  what: string;
  exportsCode: string;
}

const LAZY: readonly LazyModule[] = [
  // mqtt.js builds its table of transports at the first connect: ws:// and wss:// (and the ws package)
  {
    request: './ws',
    importer: /mqtt[\\/]build[\\/]lib[\\/]connect[\\/]index\.js$/,
    from: 'node_modules/mqtt/build/lib/connect',
    file: 'mqtt-ws.cjs',
    what: "mqtt.js's WebSocket transport and the ws package",
    exportsCode: 'exports.streamBuilder = (...a) => load().streamBuilder(...a);\nexports.browserStreamBuilder = (...a) => load().browserStreamBuilder(...a);',
  },
  // mqtts:// (node's tls module)
  { request: './tls', importer: /mqtt[\\/]build[\\/]lib[\\/]connect[\\/]index\.js$/, from: 'node_modules/mqtt/build/lib/connect', file: 'mqtt-tls.cjs', what: "mqtt.js's TLS transport", exportsCode: "Object.defineProperty(exports, '__esModule', { value: true });\nexports.default = (...a) => load().default(...a);" },
  // a SOCKS proxy (the socks and ip-address packages), required by the tcp and tls transports
  { request: './socks', importer: /mqtt[\\/]build[\\/]lib[\\/]connect[\\/](tcp|tls)\.js$/, from: 'node_modules/mqtt/build/lib/connect', file: 'mqtt-socks.cjs', what: "mqtt.js's SOCKS proxy client and the socks package", exportsCode: "Object.defineProperty(exports, '__esModule', { value: true });\nexports.default = (...a) => load().default(...a);" },
  // timers in a Web Worker, used by mqtt.js in a browser only (read when mqtt.js loads, called never in node)
  {
    request: 'worker-timers',
    importer: /mqtt[\\/]build[\\/]lib[\\/]get-timer\.js$/,
    from: 'node_modules/mqtt/build/lib',
    file: 'worker-timers.cjs',
    what: 'worker-timers (mqtt.js in a browser)',
    exportsCode: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'].map((f) => `exports.${f} = (...a) => load().${f}(...a);`).join('\n'),
  },
  // MQTT 5 topic aliases (a client with topicAliasMaximum; the agent speaks MQTT 3.1.1)
  { request: 'lru-cache', importer: /mqtt[\\/]build[\\/]lib[\\/]topic-alias-send\.js$/, from: 'node_modules/mqtt/build/lib', file: 'lru-cache.cjs', what: 'lru-cache (MQTT 5 topic aliases)', exportsCode: 'exports.LRUCache = function LRUCache(...a) { return new (load().LRUCache)(...a); };' },
];

/**
 * Packages and package files built into a file of their own next to the
 * agent's script (scripts/build-agent.ts), required the first time they are
 * used: their source text is not in the agent's script, and V8 keeps it only
 * for an agent that uses them. `from` is the directory the request is
 * resolved from, relative to the repository.
 */
export interface SplitFile {
  file: string;
  what: string;
  request: string;
  from: string;
}

export const SPLIT_FILES: readonly SplitFile[] = [
  ...LAZY.map(({ file, what, request, from }) => ({ file, what, request, from })),
  // Modbus RTU only: modbus-client.ts imports it when the first RTU connection opens
  { file: 'modbus-serial.cjs', what: 'modbus-serial, the Modbus RTU client', request: 'modbus-serial', from: 'edge-agent' },
  // the first serial port opened (Modbus RTU, a DL/T 645 serial line): see build-agent.ts lazySerialport
  { file: 'serialport.cjs', what: 'serialport', request: 'serialport', from: 'edge-agent' },
];

/** `require('./<file>')` of a split file stays a require at run time, next to the requiring script */
function splitFileRequests(b: Parameters<Plugin['setup']>[0]): void {
  const names = SPLIT_FILES.map((f) => f.file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|');
  b.onResolve({ filter: new RegExp(`^\\./(${names})$`) }, (args) => ({ path: args.path, external: true }));
  // modbus-serial, imported by the agent's own code (and not by its own split file's entry)
  b.onResolve({ filter: /^modbus-serial$/ }, (args) => (args.importer === '<stdin>' ? undefined : { path: './modbus-serial.cjs', external: true }));
}

export const lazyModules: Plugin = {
  name: 'lazy-modules',
  setup(b) {
    splitFileRequests(b);
    for (const m of LAZY) {
      const ns = `lazy:${m.request}`;
      b.onResolve({ filter: new RegExp(`^${m.request.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) }, (args) => {
        if (!m.importer.test(args.importer)) return undefined;
        // named from node_modules on: the name is written into the bundle
        const full = path.join(args.resolveDir, m.request);
        return { path: full.slice(full.lastIndexOf('node_modules')), namespace: ns };
      });
      b.onLoad({ filter: /.*/, namespace: ns }, () => ({ contents: lazyShim(`./${m.file}`, m.exportsCode), loader: 'js' }));
    }
  },
};

/** modbus-serial's index exports every port and server class it has; the agent uses the TCP and RTU ports. */
const MODBUS_SERIAL_EXPORTS: readonly (readonly [string, string])[] = [
  ['TestPort', './ports/testport'],
  ['TcpRTUBufferedPort', './ports/tcprtubufferedport'],
  ['TelnetPort', './ports/telnetport'],
  ['C701Port', './ports/c701port'],
  ['ServerTCP', './servers/servertcp'],
];

const LEAN_DEBUG = `'use strict';
if (process.env.DEBUG) module.exports = require('debug');
else {
  const noop = () => {};
  const make = (namespace) => {
    const d = () => {};
    Object.assign(d, { namespace, enabled: false, useColors: false, color: 0, diff: 0, log: noop, destroy: noop, extend: (sub, sep = ':') => make(namespace + sep + sub) });
    return d;
  };
  module.exports = Object.assign(make, { debug: make, default: make, enable: noop, disable: () => '', enabled: () => false, coerce: (v) => v, names: [], skips: [], formatters: {}, inspectOpts: {} });
}
`;

export const leanPackages: Plugin = {
  name: 'lean-packages',
  setup(b) {
    b.onLoad({ filter: /[\\/]mqtt-packet[\\/]numbers\.js$/ }, async (args) => ({
      contents: patched(await readFile(args.path, 'utf8'), 'mqtt-packet/numbers.js', [['const buffer = Buffer.allocUnsafe(maxLength)', 'const buffer = Buffer.allocUnsafeSlow(maxLength)']]),
      loader: 'js',
    }));
    b.onLoad({ filter: /[\\/]mqtt-packet[\\/]parser\.js$/ }, async (args) => ({
      contents: patched(await readFile(args.path, 'utf8'), 'mqtt-packet/parser.js', [["const bl = require('bl')", "const bl = require('bl/BufferList')"]]),
      loader: 'js',
    }));
    // a debugger that does nothing, unless DEBUG is set (then the real package, resolved as the importer would)
    b.onResolve({ filter: /^debug$/ }, (args) => {
      if (args.namespace === 'lean-debug' || !args.importer.includes('node_modules')) return undefined;
      return { path: `debug (for ${args.resolveDir.slice(args.resolveDir.lastIndexOf('node_modules'))})`, namespace: 'lean-debug', pluginData: { resolveDir: args.resolveDir } };
    });
    b.onLoad({ filter: /.*/, namespace: 'lean-debug' }, (args) => ({
      contents: LEAN_DEBUG,
      loader: 'js',
      resolveDir: (args.pluginData as { resolveDir: string }).resolveDir,
    }));
    b.onLoad({ filter: /[\\/]modbus-serial[\\/]index\.js$/ }, async (args) => ({
      contents: patched(
        await readFile(args.path, 'utf8'),
        'modbus-serial/index.js',
        MODBUS_SERIAL_EXPORTS.map(([name, file]) => [
          `module.exports.${name} = require("${file}");`,
          `Object.defineProperty(module.exports, ${JSON.stringify(name)}, { enumerable: true, configurable: true, get: () => require("${file}") });`,
        ]),
      ),
      loader: 'js',
    }));
  },
};

/** `z.<member>` names in the sources under `dirs` (relative to `root`) that zod exports as values */
async function zodMembers(root: string, dirs: readonly string[]): Promise<string[]> {
  const names = new Set<string>();
  for (const d of dirs) {
    for (const e of await readdir(path.join(root, d), { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts')) continue;
      const text = await readFile(path.join(e.parentPath, e.name), 'utf8');
      for (const m of text.matchAll(/\bz\.([A-Za-z_$][\w$]*)/g)) names.add(m[1]!);
    }
  }
  // type-only members (z.infer, z.output, z.input, z.core.$ZodIssue) are not values of zod's classic API
  const { z } = await import('zod');
  return [...names].filter((n) => n !== 'core' && n in z).sort();
}

/** `import { z } from 'zod'` in the agent's own sources (`dirs`) gets a `z` of only the members they use. */
export function leanZod(root: string, dirs: readonly string[]): Plugin {
  return {
    name: 'lean-zod',
    setup(b) {
      b.onResolve({ filter: /^zod$/ }, (args) => {
        const rel = path.relative(root, args.importer);
        return dirs.some((d) => rel.startsWith(`${d}${path.sep}`)) ? { path: 'zod', namespace: 'lean-zod' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'lean-zod' }, async () => {
        const members = await zodMembers(root, dirs);
        return {
          // zod's classic API by file: the package's exports map offers only the whole namespace
          contents: `import { ${members.map((m, i) => `${m} as m${i}`).join(', ')} } from ${JSON.stringify(path.join(root, 'node_modules', 'zod', 'v4', 'classic', 'external.js'))};\nexport const z = { ${members.map((m, i) => `${m}: m${i}`).join(', ')} };\n`,
          loader: 'js',
          resolveDir: root,
        };
      });
    },
  };
}
