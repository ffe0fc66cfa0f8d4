import { createClient, type Client as WsClient } from 'graphql-ws';
import { Client as PgClient } from 'pg';
import WebSocket from 'ws';
import type { SiyuApp } from '../../src/app';
import { Role } from '../../src/platform/auth';
import { systemActor } from '../../src/modules/compliance';
import { KpiMetric } from '../../src/modules/kpis';
import { readDashboardLive } from '../lib/dashboard-panels';
import { BENCH_FUNNEL } from './kpi-queries';
import { BENCH_EXPERIMENT, buildHistoryPair, type HistoryPair, type HistoryPairSize, type HistoryWorkspace } from '../lib/history-pair';
import type { Scaling, ScalingRow, ScalingSide } from '../lib/report';
import { fmt, median } from '../lib/stats';

/**
 * KPI catalogue at two history sizes: every metric of the catalogue (the `KpiMetric` enum, whatever
 * it holds when the bench runs) through each public read route — `kpi` (DAY grain, the 30 days
 * ending today in the workspace time zone, without and with the CHANNEL breakdown), `kpis` (the
 * snapshot of the same range against the 30 days before) and `aggregate` (the BI route, DAY rows),
 * plus the whole catalogue in `kpis` and `aggregate` requests of at most 30 metrics (their limit), the catalogue funnel (bench/cases/kpi-queries.ts
 * `BENCH_FUNNEL`, saved in both workspaces before their history) and daily retention cohorts (8 × 7),
 * plus the live KPI subscriptions the
 * dashboard opens (web/dashboard, read from its source: bench/lib/dashboard-panels.ts), timed to
 * their first value over graphql-ws — against two workspaces whose history differs by `factor`
 * (bench/lib/history-pair.ts). Reported per request: p50 and p95 at each size, and the ratio
 * large ÷ small ("history × 10 → cost × r"). Speed is a ratio, never an absolute time asserted.
 *
 * One request at a time. Per size, the first request of each row is a warm-up (kept as a sample
 * when it took ≥ 1 s: the JIT and plan-cache warm-up it absorbs is then negligible); then up to
 * `samples` requests, sizes alternating, fewer once a side has spent `rowBudgetMs`. A request past
 * the server's read budget (SIYU_DB_TIMEOUT_READ_MS: it answers TIMEOUT and cancels its statements;
 * the client gives up 5 s later) ends that side of the row: it is reported as a timeout, counted at
 * the limit, and the ratio becomes a lower bound.
 */

export interface KpiCatalogueSize {
  history: HistoryPairSize;
  /** Timed requests per row and size (at most). */
  samples: number;
  /** A side stops sampling once it has spent this long on a row (after at least one sample). */
  rowBudgetMs: number;
}

/** Per bench size (bench/run.ts SIZES → b1.catalogue; bench/run-kpi-catalogue.ts). Full: 1 M and 10 M events. */
export const KPI_CATALOGUE_SIZES: Record<'small' | 'full', KpiCatalogueSize> = {
  small: { history: { profiles: 100, days: 60, copies: 1 }, samples: 5, rowBudgetMs: 1_500 },
  full: { history: { profiles: 3_300, days: 60, copies: 10 }, samples: 20, rowBudgetMs: 15_000 },
};

export const HISTORY_FACTOR = 10;
const KEEP_WARMUP_MS = 1000;
const CLIENT_GRACE_MS = 5000;

type Answer = (number | null)[];
type Data = Record<string, unknown>;

interface Probe {
  subject: string;
  route: string;
  /** The route in a word or two (summary and progress lines). */
  short: string;
  transport: 'http' | 'ws';
  query: string;
  operationName?: string;
  variables: Record<string, unknown>;
  /** The answer's numbers, in a stable order (to compare the two sizes). */
  answer(data: Data): Answer;
}

interface Side {
  name: string;
  workspace: HistoryWorkspace;
  key: string;
  ws: WsClient;
}

type Outcome = { ms: number; answer: Answer } | { timeout: true } | { error: string };

interface Point {
  value: number | null;
}
interface Series {
  points: Point[];
}
const seriesValues = (total: Series, breakdown: Series[] = []) => [total, ...breakdown].flatMap((s) => s.points.map((p) => p.value));

const localToday = (tz: string) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
const addDays = (day: string, n: number) => {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
};

const KPI = 'query BenchKpi($m:KpiMetric!,$r:KpiRangeInput!){kpi(metric:$m,grain:DAY,range:$r){metric total{points{localStart value}}}}';
const KPI_CHANNEL =
  'query BenchKpiChannel($m:KpiMetric!,$r:KpiRangeInput!){kpi(metric:$m,grain:DAY,range:$r,breakdown:CHANNEL){metric total{points{localStart value}} breakdown{key points{localStart value}}}}';
const KPIS = 'query BenchKpis($m:[KpiMetric!]!,$r:KpiRangeInput!){kpis(metrics:$m,range:$r){range{from to} previousRange{from to} values{metric value previous change}}}';
const FUNNEL = 'query BenchFunnel($r:KpiRangeInput!,$s:[String!]!,$w:Float!){funnel(range:$r,steps:$s,withinHours:$w){name count}}';
const COHORTS = 'query BenchCohorts($r:KpiRangeInput!){retentionCohorts(range:$r,grain:DAY,periods:7){cohorts{cohortStart size retention}}}';
const ATTRIBUTION =
  'query BenchAttribution($m:AttributionModel!,$d:AttributionDimension!,$r:KpiRangeInput!){attribution(model:$m,dimension:$d,range:$r){conversions revenue rows{value conversions revenue share}}}';
const ATTRIBUTION_LIVE =
  'subscription BenchAttributionLive($m:AttributionModel!,$d:AttributionDimension!,$r:KpiRangeInput!){attributionUpdated(model:$m,dimension:$d,range:$r){version report{conversions revenue rows{value conversions revenue share}}}}';
/** Attribution models and dimensions timed (every model by channel; Shapley, the costliest, by touchpoint too). */
const ATTRIBUTION_ROWS: [string, string][] = [
  ...['FIRST_TOUCH', 'LAST_TOUCH', 'LINEAR', 'TIME_DECAY', 'POSITION_BASED', 'SHAPLEY'].map((m): [string, string] => [m, 'CHANNEL']),
  ['SHAPLEY', 'TOUCHPOINT'],
];
type AttributionAnswer = { conversions: number; revenue: number; rows: { value: string; conversions: number; revenue: number; share: number }[] };
const attributionAnswer = (r: AttributionAnswer): Answer => [r.conversions, r.revenue, ...[...r.rows].sort((a, b) => (a.value < b.value ? -1 : 1)).flatMap((x) => [x.conversions, x.revenue, x.share])];
const EXPERIMENT =
  'query BenchExperiment($k:String!){experimentResults(experiment:$k){exposed contaminated variants{key exposed clicked converted revenue ctr{value} cvr{value} revenuePerExposed{value}}}}';
const KPI_VARIANT =
  'query BenchKpiVariant($m:KpiMetric!,$r:KpiRangeInput!,$f:KpiFilterInput!){kpi(metric:$m,grain:DAY,range:$r,breakdown:EXPERIMENT_VARIANT,filter:$f){metric total{points{localStart value}} breakdown{key points{localStart value}}}}';
/** Metrics timed by experiment variant: people, a 30-day window, money and a rate. */
const VARIANT_METRICS = ['ACTIVE_USERS', 'MAU', 'GMV', 'CONVERSION_RATE'];
const AGGREGATE_ATTRIBUTION =
  'query BenchAggregateAttribution($r:KpiRangeInput!,$a:[AggregateAttributionInput!]!){aggregate(measures:[ORDERS,GMV],range:$r,grain:WEEK,dimension:CHANNEL,attribution:$a,first:100){totalCount rows{bucket dimension values{value} attributed{value}}}}';
const AGGREGATE_ATTRIBUTION_MEASURES = [
  { model: 'SHAPLEY', measure: 'REVENUE' },
  { model: 'LINEAR', measure: 'CONVERSIONS' },
  { model: 'LAST_TOUCH', measure: 'ROI' },
];
const AGGREGATE = 'query BenchAggregate($m:[KpiMetric!]!,$r:KpiRangeInput!){aggregate(measures:$m,range:$r,grain:DAY){totalCount rows{bucket dimension values{measure value}}}}';

function probes(range: { from: string; to: string }): Probe[] {
  // Eight daily cohorts whose seventh period is the last full day.
  const c0 = addDays(range.to, -15);
  const metrics = Object.values(KpiMetric);
  const kpi = (d: Data) => {
    const k = d.kpi as { total: Series; breakdown?: Series[] };
    return seriesValues(k.total, k.breakdown);
  };
  const kpis = (d: Data) => (d.kpis as { values: { value: number | null; previous: number | null; change: number | null }[] }).values.flatMap((v) => [v.value, v.previous, v.change]);
  const aggregate = (d: Data) => (d.aggregate as { rows: { values: { value: number | null }[] }[] }).rows.flatMap((r) => r.values.map((v) => v.value));
  const live = readDashboardLive();
  const out: Probe[] = live.panels.map((p) => ({
    subject: `dashboard ${p.panel}`,
    short: 'kpiUpdated',
    route: `\`kpiUpdated\` (${[`[${p.variables.metrics.join(', ')}]`, p.variables.grain, `periods ${p.variables.periods}`, ...(p.variables.breakdown ? [p.variables.breakdown] : [])].join(', ')}), first value over WebSocket`,
    transport: 'ws',
    query: live.query,
    operationName: live.operationName,
    variables: p.variables,
    answer: (d) => (d.kpiUpdated as { results: { total: Series; breakdown: Series[] }[] }).results.flatMap((r) => seriesValues(r.total, r.breakdown)),
  }));
  // The whole catalogue in as few requests as the limit of `kpis` and `aggregate` (30 metrics) allows.
  for (let i = 0; i < metrics.length; i += 30) {
    const m = metrics.slice(i, i + 30);
    const all = m.length === metrics.length ? `all ${metrics.length} KPIs` : `KPIs ${i + 1}–${i + m.length} of ${metrics.length}`;
    out.push(
      { subject: all, route: '`kpis`, 30 days', short: 'kpis', transport: 'http', query: KPIS, variables: { m, r: range }, answer: kpis },
      { subject: all, route: '`aggregate`, DAY, 30 days', short: 'aggregate', transport: 'http', query: AGGREGATE, variables: { m, r: range }, answer: aggregate },
    );
  }
  out.push(
    {
      subject: 'catalogue funnel',
      route: `\`funnel\`, ${BENCH_FUNNEL.steps.length} steps (saved), 30 days, ${BENCH_FUNNEL.withinHours} h`,
      short: 'funnel',
      transport: 'http',
      query: FUNNEL,
      variables: { r: range, s: BENCH_FUNNEL.steps, w: BENCH_FUNNEL.withinHours },
      answer: (d) => (d.funnel as { count: number }[]).map((x) => x.count),
    },
    {
      subject: 'retention cohorts',
      route: '`retentionCohorts`, DAY, 8 cohorts × 7 periods',
      short: 'retentionCohorts',
      transport: 'http',
      query: COHORTS,
      variables: { r: { from: c0, to: addDays(c0, 7) } },
      answer: (d) => (d.retentionCohorts as { cohorts: { size: number; retention: (number | null)[] }[] }).cohorts.flatMap((c) => [c.size, ...c.retention]),
    },
  );
  for (const [m, d] of ATTRIBUTION_ROWS) {
    out.push({
      subject: `attribution ${m} ${d}`,
      route: '`attribution`, 30 days',
      short: 'attribution',
      transport: 'http',
      query: ATTRIBUTION,
      variables: { m, d, r: range },
      answer: (x) => attributionAnswer(x.attribution as AttributionAnswer),
    });
  }
  out.push({
    subject: `experiment ${BENCH_EXPERIMENT.key}`,
    route: '`experimentResults` (2 variants, CTR, CVR, revenue, tests, SRM)',
    short: 'experimentResults',
    transport: 'http',
    query: EXPERIMENT,
    variables: { k: BENCH_EXPERIMENT.key },
    answer: (x) => {
      const r = x.experimentResults as { exposed: number; contaminated: number; variants: { exposed: number; clicked: number; converted: number; revenue: number; ctr: { value: number | null }; cvr: { value: number | null }; revenuePerExposed: { value: number | null } }[] };
      return [r.exposed, r.contaminated, ...r.variants.flatMap((v) => [v.exposed, v.clicked, v.converted, v.revenue, v.ctr.value, v.cvr.value, v.revenuePerExposed.value])];
    },
  });
  out.push({
    subject: 'ORDERS, GMV + SHAPLEY revenue, LINEAR conversions, LAST_TOUCH ROI',
    route: '`aggregate`, WEEK, CHANNEL, 30 days, with attribution measures',
    short: 'aggregate+attribution',
    transport: 'http',
    query: AGGREGATE_ATTRIBUTION,
    variables: { r: range, a: AGGREGATE_ATTRIBUTION_MEASURES },
    answer: (x) => (x.aggregate as { rows: { values: { value: number | null }[]; attributed: { value: number | null }[] }[] }).rows.flatMap((r) => [...r.values, ...r.attributed].map((v) => v.value)),
  });
  for (const m of VARIANT_METRICS) {
    out.push({
      subject: m,
      route: `\`kpi\`, DAY, 30 days, EXPERIMENT_VARIANT of ${BENCH_EXPERIMENT.key}`,
      short: 'kpi EXPERIMENT_VARIANT',
      transport: 'http',
      query: KPI_VARIANT,
      variables: { m, r: range, f: { experiment: BENCH_EXPERIMENT.key } },
      answer: kpi,
    });
  }
  out.push({
    subject: 'attribution SHAPLEY CHANNEL',
    route: '`attributionUpdated`, 30 days, first value over WebSocket',
    short: 'attributionUpdated',
    transport: 'ws',
    query: ATTRIBUTION_LIVE,
    variables: { m: 'SHAPLEY', d: 'CHANNEL', r: range },
    answer: (x) => attributionAnswer((x.attributionUpdated as { report: AttributionAnswer }).report),
  });
  for (const m of metrics) {
    out.push(
      { subject: m, route: '`kpi`, DAY, 30 days', short: 'kpi', transport: 'http', query: KPI, variables: { m, r: range }, answer: kpi },
      { subject: m, route: '`kpi`, DAY, 30 days, CHANNEL', short: 'kpi CHANNEL', transport: 'http', query: KPI_CHANNEL, variables: { m, r: range }, answer: kpi },
      { subject: m, route: '`kpis`, 30 days', short: 'kpis', transport: 'http', query: KPIS, variables: { m: [m], r: range }, answer: kpis },
      { subject: m, route: '`aggregate`, DAY, 30 days', short: 'aggregate', transport: 'http', query: AGGREGATE, variables: { m: [m], r: range }, answer: aggregate },
    );
  }
  return out;
}

/** Nearest-rank percentile. */
const pct = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
};

/** How the larger size's answer relates to the smaller's, value by value: `×10` (counts), `×1` (rates), both, or a difference. */
function compareAnswers(small: Answer | undefined, large: Answer | undefined, factor: number): string {
  if (!small || !large) return '—';
  if (small.length !== large.length) return `**differ** (${small.length} vs ${large.length} values)`;
  const kinds = new Set<string>();
  let nonzero = 0;
  // Relative 1e-6, and the 1e-6 the API rounds attribution credit to (times the factor: 1/6 → 0.166667, ×10 → 1.666667).
  const near = (l: number, s: number, f: number) => Math.abs(l - f * s) <= 1e-6 * Math.max(1, Math.abs(l)) + (f + 1) * 5e-7;
  for (let i = 0; i < small.length; i++) {
    const [s, l] = [small[i], large[i]];
    if ((s === null || s === 0) && (l === null || l === 0)) continue;
    nonzero++;
    if (s === null || l === null || s === 0) kinds.add('other');
    else if (near(l, s, factor)) kinds.add(`×${factor}`);
    else if (near(l, s, 1)) kinds.add('×1');
    else kinds.add('other');
  }
  if (!nonzero) return 'all 0 or null';
  if (kinds.has('other')) return '**differ**';
  return [...kinds].sort().join(' and ');
}

export interface KpiCatalogueFacts {
  pair: HistoryPair;
  range: { from: string; to: string };
  timeoutMs: number;
  /** Per row: the answers of both sizes (for the comparison column) and whether each subscription sample was a fresh computation. */
  answers: { subject: string; route: string; small?: Answer; large?: Answer; freshComputations?: boolean }[];
  /** Statements of abandoned live computations cancelled after subscription timeouts. */
  cancelledStatements: number;
  seconds: number;
}

export async function runKpiCatalogue(o: {
  app: SiyuApp;
  url: string;
  databaseUrl: string;
  size: KpiCatalogueSize;
  seed: number;
  batchSize: number;
  log: (m: string) => void;
}): Promise<{ scaling: Scaling; facts: KpiCatalogueFacts }> {
  const { app, log, size } = o;
  const t0 = performance.now();
  const pair = await buildHistoryPair({ app, databaseUrl: o.databaseUrl, size: size.history, factor: HISTORY_FACTOR, seed: o.seed, batchSize: o.batchSize, log, savedFunnels: [BENCH_FUNNEL] });
  const timeoutMs = app.config.dbTimeoutMs.read;
  const to = localToday(pair.tz);
  const range = { from: addDays(to, -29), to };
  const wsUrl = `${o.url.replace(/^http/, 'ws')}/graphql`;

  const open = async (name: string, workspace: HistoryWorkspace): Promise<Side> => {
    const { key } = await app.services.workspaces.createApiKey(systemActor(workspace.workspaceId), { role: Role.READ, name: 'bench kpi catalogue' });
    const ws = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` }, lazy: false, retryAttempts: 0 });
    await new Promise<void>((resolve, reject) => {
      const off = [ws.on('connected', () => (off.forEach((f) => f()), resolve())), ws.on('error', (e) => (off.forEach((f) => f()), reject(new Error(`graphql-ws: ${String(e)}`))))];
    });
    return { name, workspace, key, ws };
  };
  const sides = [await open('small', pair.small), await open('large', pair.large)];
  const live = app.services.live;
  // A live computation is not bounded by the read budget (src/platform/live runs it outside any
  // request's budget): after a subscription timed out, its statements are cancelled here so that
  // they do not run on under the next measurements.
  const pg = new PgClient({ connectionString: o.databaseUrl });
  await pg.connect();
  let cancelled = 0;
  const cancelLeftovers = async () => {
    const { rows } = await pg.query<{ n: string }>(
      `SELECT count(pg_cancel_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
    );
    cancelled += Number(rows[0].n);
  };

  const http = async (p: Probe, s: Side): Promise<Outcome> => {
    const body = JSON.stringify({ query: p.query, variables: p.variables });
    const t = performance.now();
    try {
      const res = await fetch(`${o.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.key}` },
        body,
        signal: AbortSignal.timeout(timeoutMs + CLIENT_GRACE_MS),
      });
      const json = (await res.json()) as { data?: Data; errors?: { message: string; extensions?: { code?: string } }[] };
      const ms = performance.now() - t;
      const err = json.errors?.[0];
      if (err?.extensions?.code === 'TIMEOUT') return { timeout: true };
      if (err || !json.data) return { error: `${err?.extensions?.code ?? res.status}: ${err?.message ?? 'no data'}` };
      return { ms, answer: p.answer(json.data) };
    } catch (e) {
      if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return { timeout: true };
      throw e;
    }
  };

  // Every subscription sample must be a fresh computation: the previous one's source is gone once
  // its last subscriber left (src/platform/live), which this waits for.
  const freshness = new Map<Probe, boolean>();
  const subscription = async (p: Probe, s: Side): Promise<Outcome> => {
    const before = live.stats();
    const t = performance.now();
    const outcome = await new Promise<Outcome>((resolve) => {
      let done = false;
      let unsubscribe = () => {};
      const finish = (x: Outcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // Leave after this tick: graphql-ws may still be inside its `next` callback.
        setImmediate(() => unsubscribe());
        resolve(x);
      };
      const timer = setTimeout(() => finish({ timeout: true }), timeoutMs + CLIENT_GRACE_MS);
      unsubscribe = s.ws.subscribe<Data>(
        { query: p.query, operationName: p.operationName, variables: p.variables },
        {
          next: (r) => {
            const ms = performance.now() - t;
            const err = r.errors?.[0] as { message: string; extensions?: { code?: string } } | undefined;
            if (err?.extensions?.code === 'TIMEOUT') finish({ timeout: true });
            else if (err || !r.data) finish({ error: `${err?.extensions?.code ?? 'no data'}: ${err?.message ?? ''}` });
            else finish({ ms, answer: p.answer(r.data) });
          },
          error: (e) => finish({ error: e instanceof Error ? e.message : JSON.stringify(e) }),
          complete: () => finish({ error: 'completed without a value' }),
        },
      );
    });
    if ('timeout' in outcome) await cancelLeftovers();
    const deadline = performance.now() + 5000;
    while (live.stats().subscribers > before.subscribers && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    const after = live.stats();
    if ('ms' in outcome && after.computations <= before.computations) freshness.set(p, false);
    else if (!freshness.has(p)) freshness.set(p, true);
    return outcome;
  };

  const rows: ScalingRow[] = [];
  const answers: KpiCatalogueFacts['answers'] = [];
  const list = probes(range);
  log(`  KPI catalogue: ${list.length} requests × 2 history sizes (${fmt(pair.small.counts.events, 0)} and ${fmt(pair.large.counts.events, 0)} events), range ${range.from} – ${range.to}`);
  try {
    for (const p of list) {
      const exec = (s: Side) => (p.transport === 'http' ? http(p, s) : subscription(p, s));
      const st = sides.map((side) => ({ side, samples: [] as number[], spent: 0, timeout: false, error: undefined as string | undefined, answer: undefined as Answer | undefined, done: false }));
      const take = (x: (typeof st)[number], r: Outcome, warmUp: boolean) => {
        if ('timeout' in r) {
          x.timeout = true;
          x.done = true;
        } else if ('error' in r) {
          x.error = r.error;
          x.done = true;
        } else {
          x.answer ??= r.answer;
          if (!warmUp || r.ms >= KEEP_WARMUP_MS) {
            x.samples.push(r.ms);
            x.spent += r.ms;
          }
        }
      };
      for (const x of st) take(x, await exec(x.side), true);
      while (st.some((x) => !x.done)) {
        for (const x of st) {
          if (x.done) continue;
          if (x.samples.length >= size.samples || (x.samples.length > 0 && x.spent >= size.rowBudgetMs)) {
            x.done = true;
            continue;
          }
          take(x, await exec(x.side), false);
        }
      }
      const [small, large] = st.map((x): ScalingSide => {
        const censored = x.timeout ? [...x.samples, timeoutMs] : x.samples;
        return { samples: x.samples.map((v) => Math.round(v * 100) / 100), p50: pct(censored, 0.5), p95: pct(censored, 0.95), timeout: x.timeout, ...(x.error ? { error: x.error } : {}) };
      });
      const comparable = !small.error && !large.error && !small.timeout && small.p50 !== null && large.p50 !== null;
      const row: ScalingRow = {
        subject: p.subject,
        route: p.route,
        small,
        large,
        ratioP50: comparable ? large.p50! / small.p50! : null,
        ratioP95: comparable ? large.p95! / small.p95! : null,
        lowerBound: comparable && large.timeout,
        answers: small.error || large.error ? '—' : compareAnswers(st[0].answer, st[1].answer, HISTORY_FACTOR),
      };
      rows.push(row);
      answers.push({ subject: p.subject, route: p.route, small: st[0].answer, large: st[1].answer, ...(p.transport === 'ws' ? { freshComputations: freshness.get(p) ?? false } : {}) });
      const show = (s: ScalingSide) => (s.error ? `error ${s.error}` : s.timeout && !s.samples.length ? 'timeout' : `${fmt(s.p50 ?? NaN, 1)}/${fmt(s.p95 ?? NaN, 1)} ms`);
      log(`    ${p.subject}, ${p.short}: ${show(small)} → ${show(large)}${row.ratioP50 === null ? '' : ` (${row.lowerBound ? '>' : ''}×${fmt(row.ratioP50, 2)})`}; answers ${row.answers}`);
    }
  } finally {
    for (const s of sides) await s.ws.dispose();
    await pg.end();
  }

  const stale = answers.filter((a) => a.freshComputations === false).map((a) => a.subject);
  const ratios = rows.filter((r) => r.ratioP50 !== null && !r.lowerBound).map((r) => r.ratioP50!);
  const timeouts = rows.filter((r) => r.small.timeout || r.large.timeout);
  const errors = rows.filter((r) => r.small.error || r.large.error);
  const differ = rows.filter((r) => r.answers.includes('differ'));
  const short = new Map(rows.map((r, i) => [r, list[i].short]));
  const label = (r: ScalingRow) => `${r.subject} ${short.get(r)}`;
  const worst = [...rows].filter((r) => r.ratioP50 !== null).sort((a, b) => b.ratioP50! - a.ratioP50!).slice(0, 5);
  // "NEW_PROFILES (kpi, kpis, …)": rows grouped by subject.
  const grouped = (rs: ScalingRow[]) => {
    const by = new Map<string, string[]>();
    for (const r of rs) by.set(r.subject, [...(by.get(r.subject) ?? []), short.get(r)!]);
    return [...by].map(([subject, routes]) => `${subject} (${routes.join(', ')})`).join('; ');
  };
  const d = (w: HistoryWorkspace) =>
    `${fmt(w.counts.events, 0)} events, ${fmt(w.counts.liveProfiles, 0)} live profiles, ${fmt(w.counts.kpiActivityRows, 0)} \`kpi_activity\` rows (template × ${w.copies}${w.copies > 1 ? `; copied in ${fmt(w.copySec, 0)} s, KPI rollups rebuilt by Siyu in ${fmt(w.rebuildSec, 0)} s` : ''})`;
  const seconds = (performance.now() - t0) / 1000;
  const intro = [
    `- Data: the demo population (src/demo/generator.ts, seed ${o.seed}: ${fmt(pair.size.profiles, 0)} people, ${fmt(pair.templateEvents, 0)} events over ${pair.size.days} days ending at the build, days aligned with ${pair.tz} midnights) ingested through Siyu into two workspaces (${fmt(pair.small.ingestSec, 0)} and ${fmt(pair.large.ingestSec, 0)} s), then copied by SQL: **small** ${d(pair.small)}; **large** ${d(pair.large)}. Same days, hours, channels and touchpoints; every day holds ${HISTORY_FACTOR}× the events and people at the large size (bench/lib/history-pair.ts). Built in ${fmt(pair.seconds, 0)} s.`,
    `- Requests: every \`KpiMetric\` (${Object.values(KpiMetric).length}) through \`kpi\` (DAY, the 30 days ${range.from} – ${range.to}, the workspace's today included; without and with the CHANNEL breakdown), \`kpis\` (that range against the 30 days before) and \`aggregate\` (DAY rows); the whole catalogue in \`kpis\` and \`aggregate\` requests of at most 30 metrics (their limit); the catalogue funnel (saved before the history, the same 30 days) and \`retentionCohorts\` (DAY, the 8 cohorts from ${addDays(range.to, -15)}, 7 periods); and the dashboard's live panels as web/dashboard/main.ts subscribes them (\`${readDashboardLive().operationName}\`), timed from subscribe to the first value over one graphql-ws socket${stale.length ? ` (**not** a fresh computation every time: ${stale.join(', ')})` : ' (each sample a fresh computation, checked)'}. READ key, one request at a time.${cancelled ? ` A live computation is not bounded by the read budget: after subscription timeouts the bench cancelled ${cancelled} statements still running.` : ''}`,
    `- Per row and size: one warm-up (kept when ≥ ${fmt(KEEP_WARMUP_MS / 1000, 0)} s), then up to ${size.samples} requests, sizes alternating, fewer once a side has spent ${fmt(size.rowBudgetMs / 1000, 1)} s; p50 and p95 nearest-rank (with fewer than 20 samples p95 is the slowest). Limit per request: the server's read budget, ${fmt(timeoutMs / 1000, 0)} s (\`SIYU_DB_TIMEOUT_READ_MS\`; the server answers TIMEOUT and cancels its statements); a timeout ends that side of the row, counts at the limit, and makes the ratio a lower bound (>).`,
    `- Answers column: the large answer ÷ the small one, value by value: ×${HISTORY_FACTOR} for counts and sums, ×1 for rates, averages and the \`change\` of \`kpis\` (both for a mix of them). Anything else means the two workspaces do not hold what the bench meant to build (e.g. KPI rollup state that neither Siyu's rebuild nor the copy step restores: bench/lib/base-dataset.ts).${pair.small.copies === 1 ? ' Here the small workspace is ingest only and the large one copied and rebuilt, so equal answers also check the rebuild against ingest.' : ''}`,
    `- Summary: ${rows.length} rows; median cost ratio ×${fmt(median(ratios), 2)} (rows without a timeout); ${timeouts.length} with a timeout${timeouts.length ? ` (${grouped(timeouts)})` : ''}; ${errors.length} with an error${errors.length ? ` (${grouped(errors)})` : ''}; ${differ.length} whose answers differ${differ.length ? ` (${grouped(differ)})` : ''}. Steepest: ${worst.map((r) => `${label(r)} ${r.lowerBound ? '>' : ''}×${fmt(r.ratioP50!, 1)}`).join('; ')}.`,
  ];
  const scaling: Scaling = {
    title: `KPI catalogue at two history sizes (history ×${HISTORY_FACTOR} → cost ×r)`,
    intro,
    factor: HISTORY_FACTOR,
    smallName: 'small',
    largeName: 'large',
    timeoutMs,
    rows,
  };
  log(`  KPI catalogue: ${fmt(seconds, 0)} s`);
  return { scaling, facts: { pair, range, timeoutMs, answers, seconds, cancelledStatements: cancelled } };
}
