#!/usr/bin/env node
// Adds lock entries for platform-specific optional dependencies that npm left
// out of package-lock.json.
//
// Why: the registry mirror reachable from our build machines serves only the
// linux-x64 builds of packages like @duckdb/node-bindings-* and
// @rollup/rollup-*, so `npm install` here writes a lock without the other
// platforms' entries, and `npm ci` then refuses the lock as out of sync
// (npm/cli#4828). Each added entry names the exact version, os, cpu and libc,
// so npm ci skips it on other platforms and resolves it from the registry on
// the platform it is for. Run after every `npm install` that changes the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openbsd', 'openharmony', 'sunos', 'aix', 'netbsd'];
const CPU = [['x64', 'x64'], ['arm64', 'arm64'], ['aarch64', 'arm64'], ['ia32', 'ia32'], ['loong64', 'loong64'], ['ppc64', 'ppc64'], ['riscv64', 'riscv64'], ['s390x', 's390x'], ['arm', 'arm']];

const file = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(file, 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [where, entry] of Object.entries(pkgs)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (pkgs[key]) continue;
    if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) {
      console.error(`${where}: optional ${name}@${spec} is not an exact version; left alone`);
      continue;
    }
    const base = name.split('/').pop();
    const os = OS.find((o) => base.split('-').includes(o));
    const cpu = CPU.find(([token]) => base.split('-').includes(token))?.[1];
    if (!os || !cpu) {
      console.error(`${where}: cannot tell the platform of ${name}; left alone`);
      continue;
    }
    const e = { version: spec, cpu: [cpu], os: [os], optional: true };
    if (base.includes('musl')) e.libc = ['musl'];
    else if (os === 'linux' && /gnu/.test(base)) e.libc = ['glibc'];
    if (entry.dev) e.dev = true;
    pkgs[key] = e;
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lock: ${added} platform entries added to ${file}`);
