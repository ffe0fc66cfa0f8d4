/**
 * The quick start as a new user meets it: `npm start` (the built server) on a fresh embedded data
 * directory seeds the demo and prints the dashboard URL and a key; headless Chromium opens the
 * dashboard with that key and shows non-empty tiles and charts; `siyu simulate --url` then moves
 * them.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT, startServer, type ServerProcess } from '../support/process';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
if (!haveChromium) console.warn(`quick start browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

let tmp: string;
let server: ServerProcess | null = null;
let context: BrowserContext | null = null;
beforeAll(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-web.mjs'), 'dashboard'], { cwd: ROOT, stdio: 'pipe' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-quickstart-'));
}, 180_000);
afterAll(async () => {
  await context?.close();
  if (server) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

function simulate(url: string, key: string, seconds: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/siyu.js'), 'simulate', '--rate', '40', '--duration', String(seconds), '--url', url, '--key', key], {
      cwd: tmp,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SIYU_DATA_DIR: path.join(tmp, 'cli') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

async function until(page: Page, what: string, expression: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(`!!(${expression})`))) {
    if (Date.now() > deadline) {
      const state = await page.evaluate(`({ error: document.getElementById('error')?.textContent, tiles: [...document.querySelectorAll('.tile')].map((el) => el.dataset.metric + '=' + el.dataset.value).join(' ') })`);
      throw new Error(`the dashboard never showed ${what}; it shows ${JSON.stringify(state)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const chart = (page: Page, id: string) =>
  page.evaluate(`(() => { const el = document.getElementById('${id}'); return { revision: Number(el.dataset.revision ?? 0), points: JSON.parse(el.dataset.points ?? '{}') }; })()`) as Promise<{
    revision: number;
    points: { labels: string[]; series: Record<string, (number | null)[]> };
  }>;

(haveChromium ? it : it.skip)(
  'npm start prints a URL and a key; the dashboard shows the demo and moves while siyu simulate runs',
  async () => {
    server = startServer({ SIYU_DATA_DIR: path.join(tmp, 'data'), PORT: '0', LOG_LEVEL: 'info', SIYU_DEMO: '' });
    const [, url] = await server.waitFor(/Dashboard:\s+(http:\/\/\S+)\/dashboard/, 60_000);
    const [key] = await server.waitFor(/siyu_[A-Za-z0-9_-]{32}/);
    // The demo seeds 30 days in the background; today's numbers come last.
    await server.waitFor(/"msg":"demo: seeded"/, 150_000);

    const dir = fs.mkdtempSync(path.join(tmp, 'chromium-'));
    context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1440, height: 1000 },
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${url}/dashboard`);
    await page.fill('#api-key', key);
    await page.click('#login-submit');

    // Non-empty tiles: every tile shows a number, and the demo gives today's DAU and new profiles > 0.
    await until(page, 'tiles with numbers', `[...document.querySelectorAll('.tile')].length >= 6 && [...document.querySelectorAll('.tile')].every((el) => el.dataset.value !== undefined && el.dataset.value !== '')`);
    await until(page, 'a positive DAU', `Number(document.querySelector('.tile[data-metric="DAU"]')?.dataset.value) > 0`);
    await until(page, 'the 30-day chart', `(JSON.parse(document.getElementById('chart-daily').dataset.points ?? '{}').series?.DAU ?? []).filter((v) => v > 0).length >= 20`);
    // Each panel answers on its own subscription: the hourly chart may draw after the daily one.
    await until(page, 'the hourly chart', `JSON.parse(document.getElementById('chart-hourly').dataset.points ?? '{}').series?.ORDERS !== undefined`);
    const before = await chart(page, 'chart-hourly');
    const ordersBefore = (before.points.series.ORDERS ?? []).reduce((n: number, v) => n + (v ?? 0), 0);

    // Live traffic: the hourly chart redraws with more activity.
    const sim = await simulate(url, key, 6);
    expect(sim.code).toBe(0);
    const accepted = Number(/(\d[\d,]*) accepted/.exec(sim.stderr)?.[1]?.replace(/,/g, '') ?? 0);
    expect(accepted).toBeGreaterThan(0);
    await until(page, 'the hourly chart redrawn after simulate', `Number(document.getElementById('chart-hourly').dataset.revision ?? 0) > ${before.revision}`);
    const after = await chart(page, 'chart-hourly');
    const activity = (c: { points: { series: Record<string, (number | null)[]> } }) => Object.values(c.points.series).flat().reduce((n: number, v) => n + (v ?? 0), 0);
    expect(activity(after)).toBeGreaterThan(activity(before));
    expect((after.points.series.ORDERS ?? []).reduce((n: number, v) => n + (v ?? 0), 0)).toBeGreaterThanOrEqual(ordersBefore);
    fs.mkdirSync(path.join(ROOT, 'tests/artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'tests/artifacts/quickstart.png'), fullPage: true });
    expect(problems).toEqual([]);
  },
  300_000,
);
