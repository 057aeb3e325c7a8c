/** Real headless Chromium (Debian's), driven by playwright-core; and a fresh dashboard build. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.resolve('test-artifacts');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install the Debian package "chromium" (apt-get install -y chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** What the dashboard build is made of: its own sources, the contract types it imports, the locked packages. */
const BUILD_INPUTS = ['dashboard', 'contract', 'package-lock.json'];

async function filesUnder(p: string): Promise<string[]> {
  const entries = await readdir(p, { withFileTypes: true }).catch(() => null);
  if (!entries) return [p];
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name === 'dist' || e.name === 'node_modules') continue;
    out.push(...(e.isDirectory() ? await filesUnder(path.join(p, e.name)) : [path.join(p, e.name)]));
  }
  return out;
}

/** sha256 over the build's inputs, paths and contents */
export async function dashboardInputsHash(): Promise<string> {
  const h = createHash('sha256');
  for (const root of BUILD_INPUTS)
    for (const f of await filesUnder(path.resolve(root))) {
      h.update(`${path.relative(process.cwd(), f)}\0`);
      h.update(await readFile(f));
    }
  return h.digest('hex').slice(0, 16);
}

let built: Promise<string> | null = null;
/**
 * The dashboard built from the current sources, in `test-artifacts/dashboard-<hash of its inputs>`:
 * built once and then shared by every browser test file of the run (and later runs) until a source
 * changes. Built into a private directory and renamed into place, so a directory under that name is
 * always complete; two files building at once both finish and the second one's copy is dropped.
 */
export function buildDashboard(): Promise<string> {
  built ??= (async () => {
    const outDir = path.resolve(ARTIFACTS, `dashboard-${await dashboardInputsHash()}`);
    if (existsSync(path.join(outDir, 'index.html'))) return outDir;
    const tmp = path.resolve(ARTIFACTS, `dashboard-building-${process.pid}-${Date.now()}`);
    await build({ configFile: path.resolve('dashboard/vite.config.ts'), logLevel: 'silent', build: { outDir: tmp, emptyOutDir: true } });
    try {
      await rename(tmp, outDir);
    } catch (err) {
      // another file finished the same build first
      if (!existsSync(path.join(outDir, 'index.html'))) throw err;
      await rm(tmp, { recursive: true, force: true });
    }
    return outDir;
  })();
  return built;
}

export async function screenshotPath(name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, `${name}.png`);
}

/** A port that was free a moment ago (for a server that must come back on the same port). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Logs in through the page's own form and waits for the live feed. */
export async function loginPage(page: Page, base: string, username: string, password: string, hash = ''): Promise<void> {
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', password);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector('#conn[data-state="open"]');
}
