/**
 * `node dist/bench/run-kpi-queries.js [--size small|full] [--samples n] [--reps n] [--out dir]`
 * (after `tsc -p bench/tsconfig.json`): the KPI queries case (DAU, MAU, the saved catalogue funnel,
 * retention, each against naive SQL over the raw events; bench/cases/kpi-queries.ts) alone, on the
 * harness's base dataset of that size (full: 10 M events), without the other cases — the issue's
 * "≥ 50× naive SQL" in a fraction of the full run. Database `${BENCH_DB_NAME ?? 'siyu_bench'}_queries`,
 * created and dropped; writes bench/results/<date>-kpi-queries-<size>.json and .md.
 */
import 'reflect-metadata';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createApp, type SiyuApp } from '../src/app';
import { BENCH_FUNNEL, runKpiQueries } from './cases/kpi-queries';
import { BASE_SIZES, buildBaseDataset } from './lib/base-dataset';
import { benchConfig, dropDatabase, recreateDatabase } from './lib/db';
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
  const databaseUrl = await recreateDatabase(adminUrl, dbName);
  let app: SiyuApp | undefined;
  try {
    app = await createApp(benchConfig(databaseUrl));
    const url = await app.listen(0, '127.0.0.1');
    const c = new Client({ connectionString: databaseUrl });
    await c.connect();
    const machine = await machineFacts(c).finally(() => c.end());
    const date = new Date().toISOString().slice(0, 10);
    const base = await buildBaseDataset({ app, databaseUrl, size: BASE_SIZES[sizeName], seed: SEED + 100, end: new Date(`${date}T00:00:00Z`), batchSize: 500, savedFunnels: [BENCH_FUNNEL], log });
    const data = {
      workspaceId: base.workspaceId,
      description: `the base dataset (${fmt(base.counts.events, 0)} events, ${fmt(base.counts.liveProfiles, 0)} live profiles over ${base.size.days} days).`,
      lastDay: base.lastDay,
      tz: base.tz,
      funnel: BENCH_FUNNEL.steps,
    };
    log(`KPI queries on ${data.description}`);
    const r = await runKpiQueries({ app, url, databaseUrl, data, reps, samples, log });
    machine.loadAverage.end = Math.round(os.loadavg()[0] * 100) / 100;
    const label = `kpi-queries-${sizeName}`;
    const report: Report = {
      title: `Siyu benchmark: KPI queries against naive SQL (${label})`,
      date,
      size: label,
      parameters: { base: base.size, samples, reps, seed: SEED + 100, funnel: BENCH_FUNNEL },
      machine,
      comparisons: r.comparisons,
      scaling: [],
      sections: [
        {
          title: 'Base dataset',
          lines: [
            `- ${fmt(base.counts.events, 0)} events, ${fmt(base.counts.liveProfiles, 0)} live profiles, ${fmt(base.counts.identifiers, 0)} identifiers: template of ${fmt(base.template.events, 0)} events ingested through Siyu in ${fmt(base.template.ingestSec, 0)} s, copied ${base.size.copies - 1} times in ${fmt(base.copySec, 0)} s (rollups and the saved funnel rebuilt by Siyu); database ${fmt(base.databaseBytes / 2 ** 30, 2)} GiB.`,
          ],
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
    await dropDatabase(adminUrl, dbName);
  }
}

runStandalone(main);
