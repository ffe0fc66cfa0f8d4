/**
 * Siyu's live dashboard. Bundled by scripts/build-web.mjs into dist/web/dashboard/assets/ and served
 * at /dashboard by src/platform/graphql/dashboard.ts under a strict CSP: nothing is fetched from
 * anywhere but this origin at run time.
 *
 * The API key lives in sessionStorage only. KPI tiles, both charts and the channel and touchpoint
 * breakdowns, and the organisation table (one level of the org tree, drilled into by clicking a node),
 * are `kpiUpdated` subscriptions (first message = current values, then one per change;
 * until it arrives they show that they are loading); the alert feed
 * is `alerts` plus `alertRaised`; the lifecycle funnel and health tiers are queries refreshed after
 * each KPI change. Days, hours and times are the workspace's (its time zone).
 */
import { createApi, type Api, type ApiError, type ConnectionStatus } from './api';
import { LiveChart } from './charts';
import { byId, h } from './dom';
import { formatChange, formatCount, formatInstant, formatMetric, formatPercent } from './format';
import { applyStaticLabels, currentLang, setLang, t } from './i18n';
import {
  DashboardAcknowledgeAlertDocument,
  DashboardAlertChangedDocument,
  DashboardRecordRootCauseDocument,
  DashboardResolveAlertDocument,
  DashboardAlertsDocument,
  DashboardHealthTiersDocument,
  DashboardKpiUpdatedDocument,
  DashboardMeDocument,
  DashboardOrgTreeDocument,
  DashboardStageFunnelDocument,
  type DashboardAlertFragment,
  type DashboardHealthTiersQuery,
  type DashboardKpiUpdatedSubscription,
  type DashboardKpiUpdatedSubscriptionVariables,
  type DashboardMeQuery,
  type DashboardOrgTreeQuery,
  type DashboardStageFunnelQuery,
  type KpiMetric,
} from './generated/graphql';
import './dashboard.css';

const KEY_STORAGE = 'siyu.dashboard.apiKey';
const TILE_METRICS: KpiMetric[] = ['DAU', 'NEW_PROFILES', 'CONVERSION_RATE', 'GMV', 'RETENTION_D1', 'REPURCHASE_RATE'];
const DAILY_METRICS: KpiMetric[] = ['DAU', 'NEW_PROFILES', 'GMV'];
const HOURLY_METRICS: KpiMetric[] = ['ACTIVE_USERS', 'ORDERS'];
const CHANNEL_METRICS: KpiMetric[] = ['DAU', 'NEW_PROFILES', 'GMV'];
const TIERS = ['healthy', 'stable', 'at_risk', 'dormant'] as const;
const ALERTS_SHOWN = 20;
const REFRESH_DEBOUNCE_MS = 1000;

type KpiResults = DashboardKpiUpdatedSubscription['kpiUpdated']['results'];
type Workspace = DashboardMeQuery['me']['workspace'];

function readKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

function storeKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled: the key lives as long as the page.
  }
}

// ---------------------------------------------------------------------------------------------
// Layout

function renderShell(root: HTMLElement): void {
  const langButton = h('button', { type: 'button', id: 'lang-toggle', class: 'ghost', 'data-i18n': 'language' });
  langButton.addEventListener('click', () => switchLang());
  const logout = h('button', { type: 'button', id: 'logout', class: 'ghost', hidden: true, 'data-i18n': 'logout' });
  logout.addEventListener('click', () => {
    storeKey('');
    window.location.reload();
  });
  root.append(
    h(
      'header',
      { class: 'topbar' },
      h('h1', {}, h('span', { class: 'brand' }, 'Siyu'), ' ', h('span', { 'data-i18n': 'title' })),
      h('span', { id: 'workspace-name', class: 'workspace' }),
      h('span', { class: 'spacer' }),
      h('span', { id: 'timezone', class: 'muted', hidden: true }, h('span', { 'data-i18n': 'timeZone' }), ': ', h('span', { id: 'timezone-value' })),
      h('span', { id: 'updated', class: 'muted', hidden: true }, h('span', { 'data-i18n': 'updatedAt' }), ' ', h('time', { id: 'updated-value' })),
      h('span', { id: 'connection', class: 'connection', 'data-status': 'offline', hidden: true }),
      langButton,
      logout,
    ),
    h('div', { id: 'error', class: 'error', role: 'alert', hidden: true }),
    renderLogin(),
    renderBoard(),
  );
}

function renderLogin(): HTMLElement {
  const input = h('input', { id: 'api-key', name: 'apiKey', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const form = h(
    'form',
    { id: 'login', class: 'card login' },
    h('h2', { 'data-i18n': 'login.heading' }),
    h('p', { class: 'muted', 'data-i18n': 'login.help' }),
    h('label', { for: 'api-key', 'data-i18n': 'login.key' }),
    input,
    h('button', { type: 'submit', id: 'login-submit', 'data-i18n': 'login.submit' }),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void login(input.value.trim());
  });
  return form;
}

function section(id: string, titleKey: string, ...body: HTMLElement[]): HTMLElement {
  return h('section', { id, class: 'card' }, h('h2', { 'data-i18n': titleKey }), ...body);
}

function renderBoard(): HTMLElement {
  const tiles = h('div', { id: 'tiles', class: 'tiles' });
  for (const metric of TILE_METRICS) {
    tiles.append(
      h(
        'article',
        { class: 'tile', 'data-metric': metric },
        h('h3', { 'data-i18n': `metric.${metric}` }),
        h('p', { class: 'tile-value' }),
        h('p', { class: 'tile-change muted' }, h('span', { class: 'delta' }), ' ', h('span', { class: 'delta-note' })),
      ),
    );
  }
  return h(
    'main',
    { id: 'board', hidden: true },
    h('section', { class: 'kpis', 'aria-labelledby': 'kpis-title' }, h('h2', { id: 'kpis-title', class: 'sr-heading', 'data-i18n': 'section.kpis' }), tiles),
    h(
      'div',
      { class: 'grid two' },
      section('daily', 'section.daily', h('div', { id: 'chart-daily', class: 'chart' })),
      section('hourly', 'section.hourly', h('div', { id: 'chart-hourly', class: 'chart' })),
    ),
    h(
      'div',
      { class: 'grid two' },
      section(
        'channels',
        'section.channels',
        h('div', { id: 'chart-channels', class: 'chart short' }),
        h('table', { id: 'channel-table', class: 'table' }),
        h('table', { id: 'touchpoint-table', class: 'table' }),
      ),
      section('funnel', 'section.funnel', h('ol', { id: 'funnel-stages', class: 'funnel' }), h('p', { id: 'funnel-wakeups', class: 'muted' })),
    ),
    h(
      'div',
      { class: 'grid two' },
      section('health', 'section.health', h('div', { id: 'chart-health', class: 'chart short' }), h('ul', { id: 'health-tiers', class: 'legend-list' })),
      section('alerts', 'section.alerts', h('ul', { id: 'alert-feed', class: 'alerts' })),
    ),
    section('org', 'section.org', h('nav', { id: 'org-path', class: 'crumbs' }), h('table', { id: 'org-table', class: 'table' })),
  );
}

// ---------------------------------------------------------------------------------------------
// State

interface Board {
  api: Api;
  workspace: Workspace;
  tiles: KpiResults | null;
  daily: KpiResults | null;
  hourly: KpiResults | null;
  channels: KpiResults | null;
  touchpoints: KpiResults | null;
  /** Today's values one level of the org tree down from `orgNode` (null: the top level). */
  org: KpiResults | null;
  orgNode: string | null;
  orgTree: DashboardOrgTreeQuery['orgTree'];
  /** Stops the org table's subscription (it is replaced on each drill). */
  orgStop?: () => void;
  funnel: DashboardStageFunnelQuery['stageFunnel'] | null;
  tiers: DashboardHealthTiersQuery['tagDistribution'] | null;
  alerts: DashboardAlertFragment[];
  updatedAt: string | null;
  charts: { daily: LiveChart; hourly: LiveChart; channels: LiveChart; health: LiveChart };
  refreshTimer?: ReturnType<typeof setTimeout>;
  refreshSeq: number;
  /** What is typed into an alert's root-cause or resolution field, kept across re-renders. */
  drafts: Map<string, string>;
  /** Shows the level below an org node (null: the top level). */
  drill?: (node: string | null) => void;
}

let board: Board | undefined;

function showError(message: string | null): void {
  const el = byId('error');
  el.textContent = message ?? '';
  el.hidden = !message;
}

function switchLang(): void {
  setLang(currentLang() === 'zh' ? 'en' : 'zh');
  if (board) renderAll(board);
}

function setStatus(status: ConnectionStatus): void {
  const el = byId('connection');
  el.dataset.status = status;
  el.textContent = t(`status.${status}`);
}

async function login(key: string): Promise<void> {
  if (!key) return;
  showError(null);
  const api = createApi(byId('siyu-dashboard').dataset.endpoint ?? '../graphql', key, setStatus);
  let me: DashboardMeQuery['me'];
  try {
    me = (await api.request(DashboardMeDocument, {})).me;
  } catch (err) {
    api.close();
    storeKey('');
    showError((err as ApiError).message);
    return;
  }
  if (me.role === 'INGEST') {
    api.close();
    storeKey('');
    showError(t('login.ingestRole'));
    return;
  }
  storeKey(key);
  start(api, me.workspace);
}

function start(api: Api, workspace: Workspace): void {
  byId('login').hidden = true;
  byId('board').hidden = false;
  byId('logout').hidden = false;
  byId('connection').hidden = false;
  byId('timezone').hidden = false;
  byId('workspace-name').textContent = workspace.name;
  byId('timezone-value').textContent = workspace.timeZone;
  setStatus('connecting');

  const b: Board = {
    api,
    workspace,
    tiles: null,
    daily: null,
    hourly: null,
    channels: null,
    touchpoints: null,
    org: null,
    orgNode: null,
    orgTree: [],
    funnel: null,
    tiers: null,
    alerts: [],
    updatedAt: null,
    refreshSeq: 0,
    drafts: new Map(),
    charts: {
      daily: new LiveChart(byId('chart-daily'), 'line', true),
      hourly: new LiveChart(byId('chart-hourly'), 'bar', true),
      channels: new LiveChart(byId('chart-channels'), 'bar'),
      health: new LiveChart(byId('chart-health'), 'doughnut'),
    },
  };
  board = b;
  // Until each subscription's first message: "loading", not a dash that reads as "no data".
  renderTiles(b);
  renderBreakdownTable('channel', null);
  renderBreakdownTable('touchpoint', null);
  renderOrg(b);
  const onError = (err: ApiError) => showError(err.message);

  // `live(…)` calls are the panels opened at start (bench/lib/dashboard-panels.ts reads them from here); a drill re-subscribes through `panel`.
  const panel = (key: 'tiles' | 'daily' | 'hourly' | 'channels' | 'touchpoints' | 'org', variables: DashboardKpiUpdatedSubscriptionVariables) =>
    api.subscribe(DashboardKpiUpdatedDocument, variables, (data) => {
      b[key] = data.kpiUpdated.results;
      b.updatedAt = data.kpiUpdated.computedAt;
      renderAll(b);
      scheduleRefresh(b);
    }, onError);
  const live = panel;
  live('tiles', { metrics: TILE_METRICS, grain: 'DAY', periods: 3 });
  live('daily', { metrics: DAILY_METRICS, grain: 'DAY', periods: 30 });
  live('hourly', { metrics: HOURLY_METRICS, grain: 'HOUR', periods: 24 });
  live('channels', { metrics: CHANNEL_METRICS, grain: 'DAY', periods: 1, breakdown: 'CHANNEL' });
  live('touchpoints', { metrics: CHANNEL_METRICS, grain: 'DAY', periods: 1, breakdown: 'TOUCHPOINT' });
  b.orgStop = live('org', { metrics: CHANNEL_METRICS, grain: 'DAY', periods: 1, breakdown: 'ORG_NODE' });
  // Drilling in or out: the table shows "loading" until the new level's first message.
  b.drill = (node) => {
    b.orgStop?.();
    b.orgNode = node;
    b.org = null;
    renderOrg(b);
    b.orgStop = panel('org', { metrics: CHANNEL_METRICS, grain: 'DAY', periods: 1, breakdown: 'ORG_NODE', filter: node ? { orgNode: node } : undefined });
  };
  // Every step of every alert: raised, escalated, and what anyone else on duty did.
  api.subscribe(DashboardAlertChangedDocument, {}, (data) => {
    upsertAlert(b, data.alertChanged);
    renderAlerts(b);
  }, onError);
  void refresh(b);
}

/** Funnel, tiers and the alert list are plain queries: reloaded shortly after each KPI change. */
function scheduleRefresh(b: Board): void {
  if (b.refreshTimer) return;
  b.refreshTimer = setTimeout(() => {
    b.refreshTimer = undefined;
    void refresh(b);
  }, REFRESH_DEBOUNCE_MS);
}

async function refresh(b: Board): Promise<void> {
  // Answers of an older refresh that arrive after a newer one's are dropped.
  const seq = ++b.refreshSeq;
  const now = Date.now();
  const range = { from: new Date(now - 30 * 86_400_000).toISOString(), to: new Date(now + 60_000).toISOString() };
  const results = await Promise.allSettled([
    b.api.request(DashboardStageFunnelDocument, { range }).then((d) => seq === b.refreshSeq && (b.funnel = d.stageFunnel)),
    b.api.request(DashboardHealthTiersDocument, {}).then((d) => seq === b.refreshSeq && (b.tiers = d.tagDistribution)),
    b.api.request(DashboardAlertsDocument, { first: ALERTS_SHOWN }).then((d) => seq === b.refreshSeq && mergeAlerts(b, d.alerts)),
    b.api.request(DashboardOrgTreeDocument, {}).then((d) => seq === b.refreshSeq && (b.orgTree = d.orgTree)),
  ]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) showError((failed.reason as ApiError).message);
  renderFunnel(b);
  renderTiers(b);
  renderAlerts(b);
  renderOrg(b);
}

/** An alert's history only grows: the longer one is the later state (status, level, notes). */
const newer = (a: DashboardAlertFragment, b: DashboardAlertFragment): DashboardAlertFragment => (b.history.length > a.history.length ? b : a);

/**
 * Takes a fresh alert list, keeping what this page knows better: alerts pushed since (newer than the
 * list's newest) and alerts that moved on meanwhile (a list read before an acknowledgement must not
 * bring the button back).
 */
function mergeAlerts(b: Board, listed: DashboardAlertFragment[]): void {
  const known = new Map(b.alerts.map((a) => [a.id, a]));
  const newest = Date.parse(listed[0]?.raisedAt ?? '1970-01-01T00:00:00Z');
  const pushed = b.alerts.filter((a) => !listed.some((l) => l.id === a.id) && Date.parse(a.raisedAt) > newest);
  const merged = listed.map((a) => {
    const mine = known.get(a.id);
    return mine ? newer(a, mine) : a;
  });
  b.alerts = [...pushed, ...merged].slice(0, ALERTS_SHOWN);
}

function upsertAlert(b: Board, alert: DashboardAlertFragment): void {
  const i = b.alerts.findIndex((a) => a.id === alert.id);
  if (i < 0) b.alerts.unshift(alert);
  else b.alerts[i] = newer(alert, b.alerts[i]);
  b.alerts = b.alerts.slice(0, ALERTS_SHOWN);
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderAll(b: Board): void {
  applyStaticLabels();
  const status = byId('connection').dataset.status as ConnectionStatus | undefined;
  if (status) setStatus(status);
  if (b.updatedAt) {
    byId('updated').hidden = false;
    const el = byId('updated-value');
    el.setAttribute('datetime', b.updatedAt);
    el.textContent = formatInstant(b.updatedAt, b.workspace.timeZone, false);
  }
  renderTiles(b);
  renderDaily(b);
  renderHourly(b);
  renderChannels(b);
  renderFunnel(b);
  renderTiers(b);
  renderAlerts(b);
  renderOrg(b);
}

function metricLabel(metric: string): string {
  const label = t(`metric.${metric}`);
  return label === `metric.${metric}` ? metric : label;
}

/** Cohort metrics whose latest bucket is not measurable yet (today's newcomers have no day 1): show the latest matured one. */
const LAGGING: ReadonlySet<string> = new Set(['RETENTION_D1']);

function lastValues(result: KpiResults[number] | undefined): { value: number | null; previous: number | null } {
  let points = result?.total.points ?? [];
  if (result && LAGGING.has(result.metric)) points = points.slice(0, -1);
  else points = points.slice(-2);
  return { value: points.at(-1)?.value ?? null, previous: points.length > 1 ? (points.at(-2)?.value ?? null) : null };
}

function renderTiles(b: Board): void {
  for (const metric of TILE_METRICS) {
    const tile = document.querySelector<HTMLElement>(`.tile[data-metric="${metric}"]`)!;
    tile.dataset.state = b.tiles ? 'ready' : 'loading';
    tile.setAttribute('aria-busy', String(!b.tiles));
    if (!b.tiles) {
      tile.querySelector('.tile-value')!.textContent = t('loading');
      continue;
    }
    const { value, previous } = lastValues(b.tiles.find((r) => r.metric === metric));
    // Same formula as `kpis.change`: (value − previous) ÷ |previous|, none when previous is 0 or null.
    const change = value !== null && previous !== null && previous !== 0 ? (value - previous) / Math.abs(previous) : null;
    tile.dataset.value = value === null ? '' : String(value);
    tile.dataset.previous = previous === null ? '' : String(previous);
    tile.dataset.change = change === null ? '' : String(change);
    tile.querySelector('.tile-value')!.textContent = formatMetric(metric, value);
    const changeEl = tile.querySelector<HTMLElement>('.tile-change')!;
    changeEl.classList.toggle('up', change !== null && change > 0);
    changeEl.classList.toggle('down', change !== null && change < 0);
    changeEl.querySelector('.delta')!.textContent = change === null ? '' : `${change > 0 ? '▲' : change < 0 ? '▼' : '■'} ${formatChange(change)}`;
    changeEl.querySelector('.delta-note')!.textContent = change === null ? t('change.none') : t('change.vsPrevious');
  }
}

function seriesOf(results: KpiResults, metric: KpiMetric): (number | null)[] {
  return results.find((r) => r.metric === metric)?.total.points.map((p) => p.value) ?? [];
}

function renderDaily(b: Board): void {
  if (!b.daily) return;
  const labels = b.daily[0]?.total.points.map((p) => p.localStart.slice(5, 10)) ?? [];
  b.charts.daily.update(labels, [
    { key: 'DAU', label: t('metric.DAU'), data: seriesOf(b.daily, 'DAU'), kind: 'line' },
    { key: 'NEW_PROFILES', label: t('metric.NEW_PROFILES'), data: seriesOf(b.daily, 'NEW_PROFILES'), kind: 'line' },
    { key: 'GMV', label: `${t('metric.GMV')} (¥)`, data: seriesOf(b.daily, 'GMV'), kind: 'bar', secondary: true, color: '#f59e0b' },
  ]);
}

function renderHourly(b: Board): void {
  if (!b.hourly) return;
  const labels = b.hourly[0]?.total.points.map((p) => p.localStart.slice(11, 16)) ?? [];
  b.charts.hourly.update(labels, [
    { key: 'ACTIVE_USERS', label: t('metric.ACTIVE_USERS'), data: seriesOf(b.hourly, 'ACTIVE_USERS'), kind: 'bar' },
    { key: 'ORDERS', label: t('metric.ORDERS'), data: seriesOf(b.hourly, 'ORDERS'), kind: 'line', secondary: true, color: '#db2777' },
  ]);
}

function renderChannels(b: Board): void {
  renderBreakdownTable('touchpoint', b.touchpoints);
  if (!b.channels) return;
  const channels = renderBreakdownTable('channel', b.channels);
  const value = breakdownValue(b.channels);
  b.charts.channels.update(channels.map(breakdownLabel), [
    { key: 'DAU', label: t('metric.DAU'), data: channels.map((c) => value('DAU', c)) },
    { key: 'NEW_PROFILES', label: t('metric.NEW_PROFILES'), data: channels.map((c) => value('NEW_PROFILES', c)) },
  ]);
}

/** The latest value of a metric for one breakdown key. */
function breakdownValue(results: KpiResults): (metric: KpiMetric, key: string) => number | null {
  const byMetric = new Map(results.map((r) => [r.metric, new Map(r.breakdown.map((s) => [s.key ?? '', s.points.at(-1)?.value ?? null]))]));
  return (metric, key) => byMetric.get(metric)?.get(key) ?? null;
}

/** A breakdown key as shown: the API's `""` (activity without a touchpoint or channel) reads "none". */
function breakdownLabel(key: string): string {
  return key === '' ? t('breakdown.none') : key;
}

/**
 * Today's values per channel or touchpoint as a table (rows carry `data-channel` / `data-touchpoint`
 * with the raw key); "loading" until the first message. Returns the keys shown, sorted.
 */
function renderBreakdownTable(kind: 'channel' | 'touchpoint', results: KpiResults | null): string[] {
  const table = byId<HTMLTableElement>(`${kind}-table`);
  table.setAttribute('aria-busy', String(!results));
  const head = h('thead', {}, h('tr', {}, h('th', {}, t(`${kind}.column`)), ...CHANNEL_METRICS.map((m) => h('th', { class: 'num' }, t(`metric.${m}`)))));
  const note = (key: string) => h('tbody', {}, h('tr', {}, h('td', { colspan: CHANNEL_METRICS.length + 1, class: 'muted' }, t(key))));
  if (!results) {
    table.replaceChildren(head, note('loading'));
    return [];
  }
  const keys = [...new Set(results.flatMap((r) => r.breakdown.map((s) => s.key ?? '')))].sort();
  const value = breakdownValue(results);
  table.replaceChildren(
    head,
    keys.length
      ? h(
          'tbody',
          {},
          ...keys.map((k) =>
            h('tr', { [`data-${kind}`]: k }, h('td', { class: k === '' ? 'muted' : undefined }, breakdownLabel(k)), ...CHANNEL_METRICS.map((m) => h('td', { class: 'num', 'data-metric': m }, formatMetric(m, value(m, k))))),
          ),
        )
      : note(`${kind}.none`),
  );
  return keys;
}

/**
 * One level of the org tree today: the children of `b.orgNode` (rolled up), the node's own
 * touchpoints, and at the top the unassigned ones. Rows carry `data-org` with the raw key; a node
 * with children is a button that drills into it; the path above goes back up.
 */
function renderOrg(b: Board): void {
  const nodes = new Map(b.orgTree.map((n) => [n.key, n]));
  const path: (string | null)[] = [null];
  for (let k = b.orgNode; k !== null; k = nodes.get(k)?.parentKey ?? null) path.splice(1, 0, k);
  const crumbs = path.map((k, i) =>
    i === path.length - 1
      ? h('span', { 'data-org-path': k ?? '', 'aria-current': 'true' }, k === null ? t('org.top') : (nodes.get(k)?.name ?? k))
      : drillButton(b, k, k === null ? t('org.top') : (nodes.get(k)?.name ?? k), { 'data-org-path': k ?? '' }),
  );
  byId('org-path').replaceChildren(...crumbs.flatMap((c, i) => (i ? [h('span', { class: 'muted' }, ' › '), c] : [c])));
  const table = byId<HTMLTableElement>('org-table');
  table.setAttribute('aria-busy', String(!b.org));
  const head = h('thead', {}, h('tr', {}, h('th', {}, t('org.column')), ...CHANNEL_METRICS.map((m) => h('th', { class: 'num' }, t(`metric.${m}`)))));
  const note = (key: string) => h('tbody', {}, h('tr', {}, h('td', { colspan: CHANNEL_METRICS.length + 1, class: 'muted' }, t(key))));
  if (!b.org) {
    table.replaceChildren(head, note('loading'));
    return;
  }
  const keys = [...new Set(b.org.flatMap((r) => r.breakdown.map((s) => s.key ?? '')))].sort((x, y) => (x === '' ? 1 : y === '' ? -1 : x === b.orgNode ? 1 : y === b.orgNode ? -1 : x < y ? -1 : 1));
  const value = breakdownValue(b.org);
  const label = (k: string): HTMLElement => {
    if (k === '') return h('td', { class: 'muted' }, t('org.unassigned'));
    const node = nodes.get(k);
    const name = node?.name ?? k;
    if (k === b.orgNode) return h('td', {}, `${name} · ${t('org.direct')}`);
    if (node?.children.length) return h('td', {}, drillButton(b, k, name, { title: t('org.drill') }));
    return h('td', {}, name);
  };
  table.replaceChildren(
    head,
    keys.length
      ? h('tbody', {}, ...keys.map((k) => h('tr', { 'data-org': k }, label(k), ...CHANNEL_METRICS.map((m) => h('td', { class: 'num', 'data-metric': m }, formatMetric(m, value(m, k)))))))
      : note('org.none'),
  );
}

/** A button that shows the level below `node` (null: the top level). */
function drillButton(b: Board, node: string | null, text: string, attrs: Record<string, string>): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'link', ...attrs }, text);
  button.addEventListener('click', () => b.drill?.(node));
  return button;
}

function renderFunnel(b: Board): void {
  if (!b.funnel) return;
  const stages = b.funnel.stages;
  const max = Math.max(1, ...stages.map((s) => Math.max(s.reached, s.current)));
  byId('funnel-stages').replaceChildren(
    ...stages.map((s) => {
      const bar = h('span', { class: 'bar' });
      bar.style.width = `${Math.max(1, (100 * s.reached) / max)}%`;
      return h(
        'li',
        { class: s.inactive ? 'stage inactive' : 'stage', 'data-stage': s.key, 'data-reached': s.reached, 'data-current': s.current },
        h('span', { class: 'stage-name', title: s.key }, stageName(b.funnel!.modelKey, s.key, s.name)),
        h('span', { class: 'bar-track' }, bar),
        h(
          'span',
          { class: 'stage-numbers' },
          `${t('funnel.reached')} ${formatCount(s.reached)} · ${t('funnel.current')} ${formatCount(s.current)}`,
          s.conversionToNext === null || s.conversionToNext === undefined ? '' : ` · ${t('funnel.conversion')} ${formatPercent(s.conversionToNext)}`,
        ),
      );
    }),
  );
  byId('funnel-wakeups').textContent = `${t('funnel.wakeUps')}: ${formatCount(b.funnel.wakeUps)}`;
}

/** The stored name, except English names for the default model's stages when English is on. */
function stageName(modelKey: string, key: string, name: string): string {
  if (modelKey !== 'default' || currentLang() === 'zh') return name;
  const label = t(`stage.${key}`);
  return label === `stage.${key}` ? name : label;
}

function renderTiers(b: Board): void {
  if (!b.tiers) return;
  const counts = TIERS.map((tier) => b.tiers!.find((r) => r.tagKey === `health:${tier}`)?.total ?? 0);
  b.charts.health.update(
    TIERS.map((tier) => t(`tier.${tier}`)),
    [{ key: 'profiles', label: t('section.health'), data: counts }],
  );
  byId('health-tiers').replaceChildren(
    ...TIERS.map((tier, i) => h('li', { 'data-tier': tier, 'data-count': counts[i] }, h('span', { class: `swatch s${i}` }), h('span', {}, t(`tier.${tier}`)), h('span', { class: 'num' }, formatCount(counts[i])))),
  );
}

function renderAlerts(b: Board): void {
  const feed = byId('alert-feed');
  // Re-rendering must not take away what someone is typing.
  const focused = document.activeElement instanceof HTMLInputElement && feed.contains(document.activeElement) ? document.activeElement.dataset.draft : undefined;
  if (!b.alerts.length) {
    feed.replaceChildren(h('li', { class: 'muted empty' }, t('alerts.none')));
    return;
  }
  const zone = b.workspace.timeZone;
  feed.replaceChildren(
    ...b.alerts.map((a) => {
      const escalated = a.escalations > 0 ? h('span', { class: 'escalated', title: `${t(`level.${a.raisedLevel}`)} → ${t(`level.${a.level}`)}` }, `↑${t('alerts.escalated')} ×${a.escalations}`) : null;
      const steps = h(
        'details',
        { class: 'alert-steps' },
        h('summary', {}, `${t('alerts.history')} (${a.history.length})`),
        h(
          'ol',
          {},
          ...a.history.map((s) =>
            h('li', { 'data-action': s.action }, h('time', { datetime: s.at }, formatInstant(s.at, zone)), ` ${t(`alertAction.${s.action}`)}`, s.action === 'ESCALATED' ? ` → ${t(`level.${s.level}`)}` : '', s.note ? ` · ${s.note}` : ''),
          ),
        ),
      );
      return h(
        'li',
        { class: `alert level-${a.level.toLowerCase()} status-${a.status.toLowerCase()}`, 'data-alert-id': a.id, 'data-status': a.status, 'data-rule-id': a.ruleId, 'data-level': a.level, 'data-escalations': a.escalations },
        h('span', { class: 'badge' }, t(`level.${a.level}`)),
        h(
          'div',
          { class: 'alert-body' },
          h('p', { class: 'alert-message' }, a.message),
          h(
            'p',
            { class: 'muted' },
            h('time', { datetime: a.raisedAt }, formatInstant(a.raisedAt, zone)),
            ` · ${metricLabel(a.metric)} ${t('alerts.value')} ${formatMetric(a.metric, a.value)}`,
            a.reference === null ? '' : ` · ${t('alerts.reference')} ${formatMetric(a.metric, a.reference)}`,
            ' · ',
            h('span', { class: 'alert-status' }, t(`alertStatus.${a.status}`)),
            a.dueAt ? ' · ' : '',
            a.dueAt ? h('span', { class: 'alert-due' }, `${t('alerts.due')} `, h('time', { datetime: a.dueAt }, formatInstant(a.dueAt, zone))) : '',
            escalated ? ' ' : '',
            escalated,
          ),
          a.rootCause ? h('p', { class: 'alert-root-cause' }, `${t('alerts.rootCause')}: ${a.rootCause}`) : null,
          a.resolutionNote ? h('p', { class: 'alert-resolution' }, `${t('alerts.resolution')}: ${a.resolutionNote}`) : null,
          nextStep(b, a),
          steps,
        ),
      );
    }),
  );
  if (focused) {
    const el = feed.querySelector<HTMLInputElement>(`input[data-draft="${CSS.escape(focused)}"]`);
    el?.focus();
  }
}

/**
 * The next step of the response process, where the feed takes it: acknowledge an open alert; record
 * the root cause of an acknowledged one (根源分析); resolve one whose root cause is recorded (改进落实).
 */
function nextStep(b: Board, a: DashboardAlertFragment): HTMLElement | null {
  if (a.status === 'OPEN') {
    const ack = h('button', { type: 'button', class: 'ack', 'data-alert-id': a.id }, t('alerts.acknowledge'));
    ack.addEventListener('click', () => void act(b, ack, () => b.api.request(DashboardAcknowledgeAlertDocument, { id: a.id }).then((d) => d.acknowledgeAlert)));
    return ack;
  }
  if (a.status === 'RESOLVED') return null;
  const rootCause = a.status === 'ACKNOWLEDGED';
  const draftKey = `${a.id}:${a.status}`;
  const input = h('input', {
    type: 'text',
    name: rootCause ? 'rootCause' : 'note',
    required: rootCause,
    maxlength: 2000,
    placeholder: t(rootCause ? 'alerts.rootCausePlaceholder' : 'alerts.resolvePlaceholder'),
    'aria-label': t(rootCause ? 'alerts.recordRootCause' : 'alerts.resolve'),
    'data-draft': draftKey,
  });
  input.value = b.drafts.get(draftKey) ?? '';
  input.addEventListener('input', () => b.drafts.set(draftKey, input.value));
  const submit = h('button', { type: 'submit' }, t(rootCause ? 'alerts.recordRootCause' : 'alerts.resolve'));
  const form = h('form', { class: `alert-form ${rootCause ? 'root-cause' : 'resolve'}`, 'data-alert-id': a.id }, input, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    void act(b, submit, () =>
      rootCause
        ? b.api.request(DashboardRecordRootCauseDocument, { id: a.id, rootCause: text }).then((d) => d.recordAlertRootCause)
        : b.api.request(DashboardResolveAlertDocument, { id: a.id, note: text || null }).then((d) => d.resolveAlert),
    ).then((ok) => ok && b.drafts.delete(draftKey));
  });
  return form;
}

/** Runs one step from the feed: the button waits, the answer replaces the alert, an error shows. */
async function act(b: Board, button: HTMLButtonElement, run: () => Promise<DashboardAlertFragment>): Promise<boolean> {
  button.disabled = true;
  try {
    upsertAlert(b, await run());
    renderAlerts(b);
    return true;
  } catch (err) {
    button.disabled = false;
    showError((err as ApiError).message);
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

function boot(): void {
  const root = byId('siyu-dashboard');
  renderShell(root);
  setLang(currentLang());
  const key = readKey();
  if (key) void login(key);
}

boot();
