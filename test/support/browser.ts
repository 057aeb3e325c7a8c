/** Real headless Chromium (Debian's), driven by playwright-core; and a fresh dashboard build. */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
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

let built: Promise<string> | null = null;
/** Builds the dashboard once per test file into a private directory and returns it. */
export function buildDashboard(): Promise<string> {
  built ??= (async () => {
    const outDir = path.resolve('test-artifacts', `dashboard-${process.pid}`);
    await build({ configFile: path.resolve('dashboard/vite.config.ts'), logLevel: 'silent', build: { outDir, emptyOutDir: true } });
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
