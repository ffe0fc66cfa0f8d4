/**
 * `node dist/bench/run-org.js --workspace <id> [--runs 12] [--days 30] [--out file]` (after
 * `tsc -p bench/tsconfig.json`), with `DATABASE_URL` and `SIYU_PII_KEY` of a workspace that
 * `siyu seed` filled (it sets up the demo org tree: docs/org.md): what a regional manager's KPI
 * page asks over HTTP with a READ key — ACTIVE_USERS, GMV and CONVERSION_RATE by day over the last
 * `--days` days — for each split the org work added (ORG_NODE at the top and one level down, an
 * org node filter, STAFF), beside the same request without a split and split by TOUCHPOINT,
 * measured in the same run (the reference). Each request is checked: ORG_NODE keys add up to the
 * total for GMV. Prints p50/p95 per request and its ratio to the unsplit one; writes the JSON.
 * Run it on seeds of two sizes (e.g. 5,000 and 50,000 people) for how cost grows with history.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import { createApp, type SiyuApp } from '../src/app';
import { loadConfig } from '../src/platform/config';
import { cliActor } from '../src/modules/compliance';
import { Role } from '../src/platform/auth';
import { fmt, median } from './lib/stats';

const log = (m: string) => process.stderr.write(`${m}\n`);

const QUERY = `query($metric: KpiMetric!, $range: KpiRangeInput!, $breakdown: KpiBreakdown, $filter: KpiFilterInput) {
  kpi(metric: $metric, range: $range, grain: DAY, breakdown: $breakdown, filter: $filter) { total { points { value } } breakdown { key points { value } } }
}`;

interface Case {
  name: string;
  breakdown?: string;
  filter?: Record<string, unknown>;
}

const CASES: Case[] = [
  { name: 'NONE (reference)' },
  { name: 'TOUCHPOINT' },
  { name: 'ORG_NODE top level', breakdown: 'ORG_NODE' },
  { name: 'ORG_NODE under hq', breakdown: 'ORG_NODE', filter: { orgNode: 'hq' } },
  { name: 'ORG_NODE under online', breakdown: 'ORG_NODE', filter: { orgNode: 'online' } },
  { name: 'filter orgNode east', filter: { orgNode: 'east' } },
  { name: 'STAFF', breakdown: 'STAFF' },
  { name: 'STAGE (for comparison)', breakdown: 'STAGE' },
];
for (const c of CASES) if (c.name === 'TOUCHPOINT') c.breakdown = 'TOUCHPOINT';

const METRICS = ['ACTIVE_USERS', 'GMV', 'CONVERSION_RATE'];

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const ws = opt('--workspace');
  if (!ws) throw new Error('--workspace <id> is required');
  const runs = Number(opt('--runs') ?? 12);
  const days = Number(opt('--days') ?? 30);
  let app: SiyuApp | undefined;
  try {
    app = await createApp(loadConfig({ ...process.env, LOG_LEVEL: 'warn', SIYU_SWEEP_INTERVAL_MS: '0', SIYU_DUE_INTERVAL_MS: '0', SIYU_DELIVERY_INTERVAL_MS: '0', SIYU_AUTO_MIGRATE: 'false' }));
    const url = await app.listen(0, '127.0.0.1');
    const key = (await app.services.workspaces.createApiKey(cliActor(ws), { role: Role.READ, name: 'bench org' })).key;
    const [{ events, today }] = await app.db.dataSource.manager.query(
      `SELECT (SELECT count(*) FROM events WHERE workspace_id = $1)::int AS events, to_char(now() AT TIME ZONE time_zone, 'YYYY-MM-DD') AS today FROM workspaces WHERE id = $1`,
      [ws],
    );
    const from = new Date(Date.parse(`${today}T00:00:00Z`) - (days - 1) * 86_400_000).toISOString().slice(0, 10);
    const range = { from, to: today };
    log(`run-org: workspace ${ws}, ${fmt(events)} events, ${days} days ending ${today}, ${runs} runs per request`);
    const ask = async (metric: string, c: Case) => {
      const t0 = performance.now();
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: QUERY, variables: { metric, range, breakdown: c.breakdown ?? null, filter: c.filter ?? null } }),
      });
      const body = (await res.json()) as { data?: { kpi: { total: { points: { value: number | null }[] }; breakdown: { key: string; points: { value: number | null }[] }[] | null } }; errors?: unknown[] };
      const ms = performance.now() - t0;
      if (body.errors) throw new Error(`${c.name} ${metric}: ${JSON.stringify(body.errors)}`);
      return { ms, kpi: body.data!.kpi };
    };
    const rows: { name: string; metric: string; keys: number; p50: number; p95: number }[] = [];
    // Warm every request once (plans, caches), then alternate requests run by run so drift hits all alike.
    for (const c of CASES) for (const m of METRICS) await ask(m, c);
    const times = new Map<string, number[]>();
    const keys = new Map<string, number>();
    for (let r = 0; r < runs; r++) {
      for (const c of CASES) {
        for (const m of METRICS) {
          const { ms, kpi } = await ask(m, c);
          const id = `${c.name}|${m}`;
          times.set(id, [...(times.get(id) ?? []), ms]);
          keys.set(id, kpi.breakdown?.length ?? 0);
          if (r === 0 && m === 'GMV' && c.breakdown === 'ORG_NODE' && !c.filter) {
            // The top level partitions the workspace: its keys add up to the total on every day.
            kpi.total.points.forEach((p, i) => {
              const sum = (kpi.breakdown ?? []).reduce((a, s) => a + (s.points[i]?.value ?? 0), 0);
              if (Math.abs(sum - (p.value ?? 0)) > 0.01) throw new Error(`ORG_NODE keys add up to ${sum}, total ${p.value} on day ${i}`);
            });
          }
        }
      }
    }
    for (const c of CASES) for (const m of METRICS) {
      const xs = times.get(`${c.name}|${m}`)!;
      rows.push({ name: c.name, metric: m, keys: keys.get(`${c.name}|${m}`)!, p50: median(xs), p95: p95(xs) });
    }
    const ref = new Map(rows.filter((r) => r.name === CASES[0].name).map((r) => [r.metric, r.p50]));
    log(`${'request'.padEnd(26)} ${'metric'.padEnd(16)} keys     p50 ms   p95 ms  ×NONE p50`);
    for (const r of rows) log(`${r.name.padEnd(26)} ${r.metric.padEnd(16)} ${String(r.keys).padStart(4)} ${r.p50.toFixed(1).padStart(8)} ${r.p95.toFixed(1).padStart(8)} ${(r.p50 / ref.get(r.metric)!).toFixed(2).padStart(9)}`);
    const out = opt('--out');
    if (out) fs.writeFileSync(out, JSON.stringify({ workspace: ws, events, days, runs, today, rows }, null, 2));
  } finally {
    await app?.stop();
  }
}

main().catch((err) => {
  log(String(err?.stack ?? err));
  process.exit(1);
});
