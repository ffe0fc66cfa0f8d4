/**
 * The live dashboard at /dashboard, driven in headless Chromium (Debian's `chromium` with
 * playwright-core): log in with an ANALYST key, ingest events through the API, watch the tiles and
 * charts follow, take an alert raised by the ingest through its response process, watch another escalate, switch language, and save a screenshot
 * to tests/artifacts/dashboard.png.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ingest } from '../support/api';
import { bootApp, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { waitUntil } from '../support/wait';
import { AlertProcessListDocument, AlertsDocument, AssignTouchpointsDocument, CreateAlertRuleDocument, CreateApiKeyDocument, KpiDocument, SaveOrgNodeDocument } from '../generated/graphql';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
const haveChromium = fs.existsSync(CHROMIUM);
// Skipped (with a message) on a machine without Chromium; CI installs it (.ci/run), so there it fails.
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
if (!haveChromium) console.warn(`dashboard browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

let t: TestApp;
beforeAll(async () => {
  // Build the page from the current sources (codegen ran in pretest); esbuild takes about a second.
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-web.mjs'), 'dashboard'], { cwd: ROOT, stdio: 'pipe' });
  t = await bootApp();
});
afterAll(() => t?.stop());

describe('the dashboard page', () => {
  it('is served from this server only, under a strict CSP', async () => {
    const { DASHBOARD_CSP } = await import('../../src/platform/graphql/dashboard');
    const bare = await t.http().get('/dashboard');
    expect(bare.status).toBe(302);
    expect(bare.headers.location).toBe('dashboard/');
    const page = await t.http().get('/dashboard/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("connect-src 'self' ws: wss:");
    expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
    expect(page.text).toContain('src="./assets/dashboard.js"');
    expect(page.text).not.toMatch(/https?:\/\//);
    for (const asset of ['dashboard.js', 'dashboard.css']) {
      const res = await t.http().get(`/dashboard/assets/${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    }
    expect((await t.http().get('/dashboard/assets/missing.js')).status).toBe(404);
  });
});

(haveChromium ? describe : describe.skip)('the dashboard in Chromium', () => {
  let context: BrowserContext;
  let userDataDir: string;
  beforeAll(async () => {
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      locale: 'en-US',
      viewport: { width: 1440, height: 1000 },
    });
  });
  afterAll(async () => {
    await context?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  /**
   * Waits until an expression is true in the page (at most 20 s); on time-out, fails with what the
   * page shows. Polls with page.evaluate: waitForFunction would eval inside the page, which the
   * dashboard's CSP (rightly) forbids.
   */
  async function until(page: Page, what: string, expression: string) {
    const deadline = Date.now() + 20_000;
    while (!(await page.evaluate(`!!(${expression})`))) {
      if (Date.now() > deadline) {
        // Runs in the page (the test itself compiles without DOM types).
        const state = await page.evaluate(`({
          error: document.getElementById('error')?.textContent,
          tiles: [...document.querySelectorAll('.tile')].map((el) => el.dataset.metric + '=' + el.dataset.value).join(' '),
          alerts: [...document.querySelectorAll('#alert-feed li')].map((el) => el.dataset.ruleId + ':' + el.dataset.status).join(' '),
        })`);
        throw new Error(`the dashboard never showed ${what}; it shows ${JSON.stringify(state)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const tile = (page: Page, metric: string) => page.locator(`.tile[data-metric="${metric}"]`);

  interface ChartData {
    revision: number;
    points: { labels: string[]; series: Record<string, (number | null)[]> };
  }
  const chartPoints = (page: Page, id: string): Promise<ChartData> =>
    page.evaluate(`(() => { const el = document.getElementById('${id}'); return { revision: Number(el.dataset.revision ?? 0), points: JSON.parse(el.dataset.points ?? '{}') }; })()`);

  it('logs in, follows ingest live on tiles and charts, takes an alert through acknowledge, root cause and resolve, shows another escalate, and switches language', async () => {
    const { adminKey } = await t.newWorkspace('看板 e2e');
    const created = await t.gql(CreateApiKeyDocument, { input: { name: 'dashboard', role: 'ANALYST' } }, adminKey);
    expect(created.errors).toBeUndefined();
    const key = created.data!.createApiKey.key;
    const rule = await t.gql(CreateAlertRuleDocument, { input: { name: 'orders above 2 today', metric: 'ORDERS', kind: 'ABOVE', threshold: 2, level: 'URGENT', windowDays: 1, evaluate: 'CURRENT_PERIOD' } }, adminKey);
    expect(rule.errors).toBeUndefined();
    const ruleId = rule.data!.createAlertRule.id;
    // A NORMAL rule nobody handles: it escalates on the feed.
    const quiet = await t.gql(CreateAlertRuleDocument, { input: { name: 'any order today', metric: 'ORDERS', kind: 'ABOVE', threshold: 0, level: 'NORMAL', windowDays: 1, evaluate: 'CURRENT_PERIOD' } }, adminKey);
    const quietId = quiet.data!.createAlertRule.id;

    // Yesterday: one person (so today's tiles have something to compare with). Today so far: two.
    const now = Date.now();
    const at = (msAgo: number) => new Date(now - msAgo).toISOString();
    const view = (member: string, msAgo: number, channel = 'wechat_mp') =>
      makeEvent({ identifiers: [`member_id::${member}`], name: 'Product Viewed', channel, timestamp: at(msAgo) });
    const order = (member: string, revenue: number, channel = 'wechat_mp') =>
      makeEvent({ identifiers: [`member_id::${member}`], name: 'Order Completed', channel, properties: { revenue }, timestamp: at(1_000) });
    await ingest(t, adminKey, [view('d', 86_400_000)]);
    await ingest(t, adminKey, [view('a', 2_000), view('b', 2_000, 'wecom')]);

    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (msg) => {
      // The wrong key's 401 is logged by Chromium itself; anything else (a CSP violation, a script
      // error) is a problem.
      if (msg.type() === 'error' && !msg.text().includes('status of 401')) problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));

    await page.goto(`${t.url}/dashboard`);
    // A wrong key: a clear message, nothing kept, still on the sign-in form.
    await page.fill('#api-key', 'siyu_not_a_key');
    await page.click('#login-submit');
    await until(page, 'the sign-in error', `!document.getElementById('error').hidden`);
    await expect(page.textContent('#error')).resolves.toContain('API key');
    expect(await page.evaluate(`sessionStorage.getItem('siyu.dashboard.apiKey')`)).toBeNull();
    expect(await page.isVisible('#board')).toBe(false);

    await page.fill('#api-key', key);
    await page.click('#login-submit');
    await until(page, 'DAU 2', `document.querySelector('.tile[data-metric="DAU"]')?.dataset.value === '2'`);
    expect(await page.evaluate(`sessionStorage.getItem('siyu.dashboard.apiKey')`)).toBe(key);
    expect(await page.evaluate(`Object.keys(localStorage).map((name) => localStorage.getItem(name)).join(' ')`)).not.toContain(key);
    expect(await page.textContent('#workspace-name')).toBe('看板 e2e');
    expect(await page.textContent('#timezone-value')).toBe('Asia/Shanghai');
    await expect(tile(page, 'DAU').locator('.tile-change').textContent()).resolves.toContain('+100%');
    await expect(tile(page, 'NEW_PROFILES').locator('.tile-value').textContent()).resolves.toBe('2');
    await until(page, 'the daily chart', `JSON.parse(document.getElementById('chart-daily').dataset.points ?? '{}').series?.DAU?.at(-1) === 2`);
    const before = await chartPoints(page, 'chart-daily');
    expect(before.points.labels).toHaveLength(30);

    // Live: a new person and four orders (a twice); the ORDERS > 2 rule fires.
    await ingest(t, adminKey, [view('c', 1_500, 'wecom'), order('a', 100), order('b', 50, 'wecom'), order('c', 30.5, 'wecom'), order('a', 20)]);
    await until(page, 'DAU 3', `document.querySelector('.tile[data-metric="DAU"]')?.dataset.value === '3'`);
    await until(page, 'GMV 200.5', `document.querySelector('.tile[data-metric="GMV"]')?.dataset.value === '200.5'`);
    await expect(tile(page, 'GMV').locator('.tile-value').textContent()).resolves.toContain('200.50');
    await expect(tile(page, 'DAU').locator('.tile-change').textContent()).resolves.toContain('+200%');
    await until(page, 'repurchase rate 1/3', `document.querySelector('.tile[data-metric="REPURCHASE_RATE"]')?.dataset.value?.startsWith('0.333')`);
    await expect(tile(page, 'REPURCHASE_RATE').locator('.tile-value').textContent()).resolves.toBe('33.3%');
    await until(page, 'conversion 100%', `document.querySelector('.tile[data-metric="CONVERSION_RATE"]')?.dataset.value === '1'`);

    await until(page, 'the daily chart redrawn', `JSON.parse(document.getElementById('chart-daily').dataset.points ?? '{}').series?.DAU?.at(-1) === 3`);
    const after = await chartPoints(page, 'chart-daily');
    expect(after.revision).toBeGreaterThan(before.revision);
    expect(after.points.series.GMV.at(-1)).toBe(200.5);
    expect(after.points.series.DAU.at(-2)).toBe(1);
    // Summed over the 24 hours, so an hour that turns meanwhile changes nothing.
    await until(page, 'the hourly chart', `JSON.parse(document.getElementById('chart-hourly').dataset.points ?? '{}').series?.ORDERS?.reduce((n, v) => n + (v ?? 0), 0) === 4`);
    await until(page, 'the channel table', `document.querySelector('#channel-table tr[data-channel="wecom"] td[data-metric="DAU"]')?.textContent === '2'`);
    await expect(page.textContent('#channel-table tr[data-channel="wechat_mp"] td[data-metric="DAU"]')).resolves.toBe('1');
    await until(page, 'the funnel', `document.querySelector('#funnel-stages li[data-stage="purchase"]')?.dataset.reached === '3'`);
    await until(page, 'health tiers for 4 people', `[...document.querySelectorAll('#health-tiers li')].reduce((n, li) => n + Number(li.dataset.count), 0) === 4`);

    // The alert arrives in the feed; acknowledge it there and check through the API.
    await until(page, 'the alert', `!!document.querySelector('#alert-feed li[data-rule-id="${ruleId}"] button.ack')`);
    await page.click(`#alert-feed li[data-rule-id="${ruleId}"] button.ack`);
    await until(page, 'the alert acknowledged', `document.querySelector('#alert-feed li[data-rule-id="${ruleId}"]')?.dataset.status === 'ACKNOWLEDGED'`);
    const alerts = (await t.gql(AlertsDocument, {}, adminKey)).data!.alerts.filter((a) => a.ruleId === ruleId);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ status: 'ACKNOWLEDGED', acknowledgedBy: created.data!.createApiKey.apiKey.id });
    // The rest of the response process on the feed: root cause (根源分析), then the fix (改进落实).
    const item = `#alert-feed li[data-rule-id="${ruleId}"]`;
    await page.fill(`${item} form.root-cause input`, '直播间优惠券叠加');
    await page.click(`${item} form.root-cause button`);
    await until(page, 'the root cause recorded', `document.querySelector('${item}')?.dataset.status === 'ROOT_CAUSE_RECORDED'`);
    await expect(page.textContent(`${item} .alert-root-cause`)).resolves.toContain('直播间优惠券叠加');
    await page.fill(`${item} form.resolve input`, '优惠券互斥规则已上线');
    await page.click(`${item} form.resolve button`);
    await until(page, 'the alert resolved', `document.querySelector('${item}')?.dataset.status === 'RESOLVED'`);
    await expect(page.locator(`${item} .alert-steps li`).evaluateAll((els) => els.map((el) => el.getAttribute('data-action')))).resolves.toEqual([
      'RAISED',
      'ACKNOWLEDGED',
      'ROOT_CAUSE_RECORDED',
      'RESOLVED',
    ]);
    const process = (await t.gql(AlertProcessListDocument, {}, adminKey)).data!.alerts.find((a) => a.ruleId === ruleId)!;
    expect(process).toMatchObject({ status: 'RESOLVED', rootCause: '直播间优惠券叠加', resolutionNote: '优惠券互斥规则已上线', rootCauseBy: created.data!.createApiKey.apiKey.id });
    // The unhandled NORMAL alert passes its service level (4 h to acknowledge): it escalates, and the feed shows it live.
    await until(page, 'the NORMAL alert', `!!document.querySelector('#alert-feed li[data-rule-id="${quietId}"]')`);
    // (The sweep is global: other workspaces' alerts in this database may escalate too.)
    const escalated = await t.app.services.kpis.alerts.escalateDue(new Date(Date.now() + 4 * 3_600_000 + 60_000));
    expect(escalated.filter((a) => a.rule_id === quietId).map((a) => a.level)).toEqual(['important']);
    await until(page, 'the escalation', `document.querySelector('#alert-feed li[data-rule-id="${quietId}"]')?.dataset.level === 'IMPORTANT'`);
    await expect(page.textContent(`#alert-feed li[data-rule-id="${quietId}"] .escalated`)).resolves.toContain('×1');

    // Chinese labels.
    await expect(tile(page, 'DAU').locator('h3').textContent()).resolves.toBe('DAU');
    await page.click('#lang-toggle');
    await expect(tile(page, 'DAU').locator('h3').textContent()).resolves.toBe('日活');
    await expect(page.textContent('#alerts h2')).resolves.toBe('告警');
    await expect(page.textContent(`#alert-feed li[data-rule-id="${ruleId}"] .alert-status`)).resolves.toBe('已解决');
    await expect(tile(page, 'DAU').locator('.tile-value').textContent()).resolves.toBe('3');

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows tiles and breakdowns as loading until their first live message, and labels the touchpoint-less key "none"', async () => {
    const { adminKey } = await t.newWorkspace('看板 loading');
    const at = new Date(Date.now() - 2_000).toISOString();
    const view = (member: string, context?: Record<string, unknown>) => makeEvent({ identifiers: [`member_id::${member}`], name: 'Product Viewed', timestamp: at, context });
    await ingest(t, adminKey, [view('p1', { touchpoint: 'qr_store_01' }), view('p2', { touchpoint: 'qr_store_01' }), view('p3')]);

    // The page's socket goes through this proxy, which holds every result (`next`) until released.
    const page = await context.newPage();
    let held: string[] | null = [];
    let subscribed = 0;
    let toPage: ((m: string) => void) | undefined;
    await page.routeWebSocket(
      (url) => url.pathname === '/graphql',
      (ws) => {
        const server = ws.connectToServer();
        toPage = (m) => ws.send(m);
        ws.onMessage((m) => {
          if (typeof m === 'string' && JSON.parse(m).type === 'subscribe') subscribed++;
          server.send(m);
        });
        server.onMessage((m) => {
          if (held && typeof m === 'string' && JSON.parse(m).type === 'next') held.push(m);
          else ws.send(m);
        });
      },
    );
    await page.goto(`${t.url}/dashboard`);
    // English (the test before switched this browser profile to Chinese).
    await page.evaluate(`localStorage.setItem('siyu.dashboard.lang', 'en')`);
    await page.reload();
    await page.fill('#api-key', adminKey);
    await page.click('#login-submit');
    // Every live subscription is open and the first results are in (held back): still "loading".
    await until(page, 'the board', `!document.getElementById('board').hidden`);
    // Six kpiUpdated subscriptions (tiles, daily, hourly, channels, touchpoints, org) and alertChanged.
    await waitUntil('seven subscriptions and six first results', () => subscribed >= 7 && held!.length >= 6, { state: () => ({ subscribed, held: held!.length }) });
    for (const el of await page.locator('.tile').all()) {
      await expect(el.getAttribute('data-state')).resolves.toBe('loading');
      await expect(el.getAttribute('aria-busy')).resolves.toBe('true');
      await expect(el.locator('.tile-value').textContent()).resolves.toBe('Loading…');
    }
    await expect(page.textContent('#touchpoint-table tbody')).resolves.toBe('Loading…');
    await expect(page.textContent('#channel-table tbody')).resolves.toBe('Loading…');
    await expect(page.textContent('#org-table tbody')).resolves.toBe('Loading…');

    // Released: the values replace "loading"; the key "" (no touchpoint) reads "none" (无 in Chinese).
    const release = held!;
    held = null;
    for (const m of release) toPage!(m);
    await until(page, 'DAU 3', `document.querySelector('.tile[data-metric="DAU"]')?.dataset.value === '3'`);
    await expect(tile(page, 'DAU').getAttribute('data-state')).resolves.toBe('ready');
    await expect(tile(page, 'DAU').getAttribute('aria-busy')).resolves.toBe('false');
    await expect(tile(page, 'DAU').locator('.tile-value').textContent()).resolves.toBe('3');
    await until(page, 'the touchpoint table', `document.querySelector('#touchpoint-table tr[data-touchpoint="qr_store_01"] td[data-metric="DAU"]')?.textContent === '2'`);
    const none = page.locator('#touchpoint-table tr[data-touchpoint=""]');
    await expect(none.locator('td').first().textContent()).resolves.toBe('none');
    await expect(none.locator('td[data-metric="DAU"]').textContent()).resolves.toBe('1');
    await page.click('#lang-toggle');
    await expect(none.locator('td').first().textContent()).resolves.toBe('无');
    await page.close();
  });
  it('shows today by org node, one level at a time, drilling down and back up, equal to the API', async () => {
    const { adminKey } = await t.newWorkspace('看板 org');
    for (const [key, name, parentKey] of [['hq', '总部', null], ['east', '华东大区', 'hq'], ['store_a', '上海店', 'east'], ['south', '华南大区', 'hq']] as const) {
      expect((await t.gql(SaveOrgNodeDocument, { input: { key, name, parentKey } }, adminKey)).errors).toBeUndefined();
    }
    await t.gql(AssignTouchpointsDocument, { touchpoints: ['qr_a'], nodeKey: 'store_a' }, adminKey);
    await t.gql(AssignTouchpointsDocument, { touchpoints: ['live_e'], nodeKey: 'east' }, adminKey);
    await t.gql(AssignTouchpointsDocument, { touchpoints: ['qr_s'], nodeKey: 'south' }, adminKey);
    const at = new Date(Date.now() - 2_000).toISOString();
    const view = (member: string, touchpoint?: string) => makeEvent({ identifiers: [`member_id::${member}`], name: 'Product Viewed', timestamp: at, context: touchpoint ? { touchpoint } : undefined });
    await ingest(t, adminKey, [view('o1', 'qr_a'), view('o2', 'qr_a'), view('o3', 'live_e'), view('o4', 'qr_s'), view('o5'), view('o1', 'qr_s')]);
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const api = async (orgNode?: string) => {
      const r = await t.gql(KpiDocument, { metric: 'DAU', range: { from: today, to: today }, grain: 'DAY', breakdown: 'ORG_NODE', filter: orgNode ? { orgNode } : undefined }, adminKey);
      expect(r.errors).toBeUndefined();
      return Object.fromEntries(r.data!.kpi.breakdown!.map((x) => [x.key ?? '', String(x.points.at(-1)!.value)]));
    };
    const shown = (page: Page) =>
      page.evaluate(`Object.fromEntries([...document.querySelectorAll('#org-table tbody tr[data-org]')].map((tr) => [tr.dataset.org, tr.querySelector('td[data-metric="DAU"]').textContent]))`);
    const rowText = (page: Page, key: string) => page.locator(`#org-table tr[data-org="${key}"] td`).first().textContent();

    const page = await context.newPage();
    await page.goto(`${t.url}/dashboard`);
    await page.evaluate(`localStorage.setItem('siyu.dashboard.lang', 'en')`);
    await page.reload();
    await page.fill('#api-key', adminKey);
    await page.click('#login-submit');
    // The top: headquarters (o1–o4: o1 at two stores counts once) and the unassigned (o5).
    await until(page, 'the org table', `document.querySelector('#org-table tr[data-org="hq"] td[data-metric="DAU"]')?.textContent === '4'`);
    expect(await shown(page)).toEqual(await api());
    expect(await api()).toEqual({ hq: '4', '': '1' });
    await expect(rowText(page, '')).resolves.toBe('Unassigned');
    await until(page, 'the node names', `document.querySelector('#org-table tr[data-org="hq"] td button')?.textContent === '总部'`);
    // Down to headquarters' regions, then to east's store and its own touchpoint.
    await page.click('#org-table tr[data-org="hq"] td button');
    await until(page, 'the regions', `document.querySelector('#org-table tr[data-org="south"] td[data-metric="DAU"]')?.textContent === '2'`);
    expect(await shown(page)).toEqual(await api('hq'));
    expect(await api('hq')).toEqual({ east: '3', south: '2' });
    await expect(page.textContent('#org-path')).resolves.toBe('All › 总部');
    await page.click('#org-table tr[data-org="east"] td button');
    await until(page, 'the store', `document.querySelector('#org-table tr[data-org="store_a"] td[data-metric="DAU"]')?.textContent === '2'`);
    expect(await shown(page)).toEqual(await api('east'));
    await expect(rowText(page, 'east')).resolves.toBe('华东大区 · direct');
    await expect(rowText(page, 'store_a')).resolves.toBe('上海店');
    // Live: a new person at the store shows without reloading.
    await ingest(t, adminKey, [view('o6', 'qr_a')]);
    await until(page, 'the store live', `document.querySelector('#org-table tr[data-org="store_a"] td[data-metric="DAU"]')?.textContent === '3'`);
    // Back to the top through the path.
    await page.click('#org-path button[data-org-path=""]');
    await until(page, 'the top again', `document.querySelector('#org-table tr[data-org="hq"] td[data-metric="DAU"]')?.textContent === '5'`);
    expect(await shown(page)).toEqual(await api());
    await page.close();
  });
});
