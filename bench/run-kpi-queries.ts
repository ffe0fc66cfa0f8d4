/**
 * `node dist/bench/run-kpi-queries.js [--size small|full] [--samples n] [--reps n] [--out dir] [--keep] [--reuse]`
 * (after `tsc -p bench/tsconfig.json`): the KPI queries case (DAU, MAU, the saved catalogue funnel,
 * retention, each against naive SQL over the raw events; bench/cases/kpi-queries.ts) alone, on the
 * harness's base dataset of that size (full: 10 M events), without the other cases — the issue's
 * "≥ 50× naive SQL" in a fraction of the full run. Database `${BENCH_DB_NAME ?? 'siyu_bench'}_queries`,
 * created and dropped; writes bench/results/<date>-kpi-queries-<size>.json and .md.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createApp, type SiyuApp } from '../src/app';
import { BENCH_FUNNEL, runKpiQueries } from './cases/kpi-queries';
import { BASE_SIZES, buildBaseDataset } from './lib/base-dataset';
import { benchConfig, databaseUrl as urlOf, dropDatabase, recreateDatabase } from './lib/db';
import { machineFacts } from './lib/machine';
import { runStandalone, saveReport, type Report } from './lib/report';
import { fmt } from './lib/stats';

const log = (m: string) => process.stderr.write(`${m}\n`);
const SEED = 20261123;
/** Requests per side and repetition, and repetitions (bench/run.ts SIZES → b1). */
const PRESETS = { small: { samples: 15, reps: 2 }, full: { samples: 5, reps: 2 } } as const;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const num = (flag: string, fallback: number) => {
    const v = opt(flag);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer`);
    return n;
  };
  const sizeName = opt('--size') ?? 'small';
  if (sizeName !== 'small' && sizeName !== 'full') throw new Error('--size must be small or full');
  const samples = num('--samples', PRESETS[sizeName].samples);
  const reps = num('--reps', PRESETS[sizeName].reps);
  const out = path.resolve(opt('--out') ?? path.resolve(__dirname, '..', '..', 'bench', 'results'));
  const adminUrl = process.env.BENCH_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `${process.env.BENCH_DB_NAME || 'siyu_bench'}_queries`;
  const started = performance.now();
  const reuse = args.includes('--reuse');
  // A kept database opens only with the PII key it was built with: give it back as BENCH_PII_KEY.
  const piiKey = process.env.BENCH_PII_KEY || randomBytes(32).toString('base64');
  const databaseUrl = reuse ? urlOf(adminUrl, dbName) : await recreateDatabase(adminUrl, dbName);
  let app: SiyuApp | undefined;
  try {
    app = await createApp(benchConfig(databaseUrl, { SIYU_PII_KEY: piiKey }));
    const url = await app.listen(0, '127.0.0.1');
    const c = new Client({ connectionString: databaseUrl });
    await c.connect();
    const machine = await machineFacts(c).finally(() => c.end());
    const date = new Date().toISOString().slice(0, 10);
    const base = reuse ? undefined : await buildBaseDataset({ app, databaseUrl, size: BASE_SIZES[sizeName], seed: SEED + 100, end: new Date(`${date}T00:00:00Z`), batchSize: 500, savedFunnels: [BENCH_FUNNEL], log });
    const data = base
      ? {
          workspaceId: base.workspaceId,
          description: `the base dataset (${fmt(base.counts.events, 0)} events, ${fmt(base.counts.liveProfiles, 0)} live profiles over ${base.size.days} days).`,
          lastDay: base.lastDay,
          tz: base.tz,
          funnel: BENCH_FUNNEL.steps,
        }
      : await keptDataset(databaseUrl);
    const baseLines = base
      ? [
          `- ${fmt(base.counts.events, 0)} events, ${fmt(base.counts.liveProfiles, 0)} live profiles, ${fmt(base.counts.identifiers, 0)} identifiers: template of ${fmt(base.template.events, 0)} events ingested through Siyu in ${fmt(base.template.ingestSec, 0)} s, copied ${base.size.copies - 1} times in ${fmt(base.copySec, 0)} s (rollups and the saved funnel rebuilt by Siyu); database ${fmt(base.databaseBytes / 2 ** 30, 2)} GiB.`,
        ]
      : [`- Reused the database ${dbName} kept by an earlier run (\`--reuse\`): ${data.description}`];
    log(`KPI queries on ${data.description}`);
    const r = await runKpiQueries({ app, url, databaseUrl, data, reps, samples, log });
    machine.loadAverage.end = Math.round(os.loadavg()[0] * 100) / 100;
    const label = `kpi-queries-${sizeName}`;
    const report: Report = {
      title: `Siyu benchmark: KPI queries against naive SQL (${label})`,
      date,
      size: label,
      parameters: { base: base?.size ?? 'reused', samples, reps, seed: SEED + 100, funnel: BENCH_FUNNEL },
      machine,
      comparisons: r.comparisons,
      scaling: [],
      sections: [
        {
          title: 'Base dataset',
          lines: baseLines,
        },
        { title: 'KPI queries (GraphQL on rollups vs naive SQL on events)', lines: r.lines },
      ],
      details: { kpiQueries: r.facts, base },
      durationSec: (performance.now() - started) / 1000,
    };
    const file = saveReport(out, `${date}-${label}`, report);
    log(`wrote ${file}.json and ${file}.md (${Math.round(report.durationSec)} s)`);
  } finally {
    await app?.stop().catch(() => undefined);
    if (args.includes('--keep') || reuse) log(`kept database ${dbName}; measure it again with BENCH_PII_KEY=${piiKey} and --reuse`);
    else await dropDatabase(adminUrl, dbName);
  }
}

/** What the KPI queries need of a kept base dataset: its one workspace with events, zone and last full local day. */
async function keptDataset(url: string): Promise<{ workspaceId: string; description: string; lastDay: string; tz: string; funnel: string[] }> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ ws: string; tz: string; last: string; events: string; live: string }>(
      `SELECT w.id AS ws, w.time_zone AS tz, to_char((x.last AT TIME ZONE w.time_zone)::date - 1, 'YYYY-MM-DD') AS last, x.events,
              (SELECT count(*) FROM profiles p WHERE p.workspace_id = w.id AND p.merged_into IS NULL) AS live
       FROM workspaces w CROSS JOIN LATERAL (SELECT max(ts) AS last, count(*) AS events FROM events e WHERE e.workspace_id = w.id) x
       WHERE x.events > 0`,
    );
    if (rows.length !== 1) throw new Error(`--reuse: expected one workspace with events in the kept database, found ${rows.length}`);
    const r = rows[0];
    return { workspaceId: r.ws, tz: r.tz, lastDay: r.last, funnel: BENCH_FUNNEL.steps, description: `the kept base dataset (${fmt(Number(r.events), 0)} events, ${fmt(Number(r.live), 0)} live profiles).` };
  } finally {
    await c.end();
  }
}

runStandalone(main);
