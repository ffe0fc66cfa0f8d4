/**
 * `node dist/bench/run-kpi-catalogue.js [--size small|full] [--profiles n] [--copies n] [--days n]
 * [--samples n] [--timeout s] [--out dir]` (after `tsc -p bench/tsconfig.json`): the KPI catalogue
 * at two history sizes (bench/cases/kpi-catalogue.ts) alone, without the harness's other cases and
 * its base dataset — for measuring a change to the KPI read path at full size (1 M and 10 M events)
 * in a fraction of the full run. `--timeout` sets the server's read budget
 * (SIYU_DB_TIMEOUT_READ_MS, default 30 s), which is the per-request limit. Database
 * `${BENCH_DB_NAME ?? 'siyu_bench'}_catalogue`, created and dropped; writes
 * bench/results/<date>-catalogue-<size>.json and .md (`catalogue-p<profiles>-c<copies>-d<days>[-t<s>]` when
 * the parameters are not a preset's).
 */
import 'reflect-metadata';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createApp, type SiyuApp } from '../src/app';
import { KPI_CATALOGUE_SIZES, runKpiCatalogue, type KpiCatalogueSize } from './cases/kpi-catalogue';
import { benchConfig, dropDatabase, recreateDatabase } from './lib/db';
import { machineFacts } from './lib/machine';
import { runStandalone, saveReport, type Report } from './lib/report';

const log = (m: string) => process.stderr.write(`${m}\n`);
const SEED = 20261123;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const num = (flag: string) => {
    const v = opt(flag);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`);
    return n;
  };
  const sizeName = opt('--size') ?? 'small';
  if (sizeName !== 'small' && sizeName !== 'full') throw new Error('--size must be small or full');
  const preset = KPI_CATALOGUE_SIZES[sizeName];
  const size: KpiCatalogueSize = {
    ...preset,
    history: { profiles: num('--profiles') ?? preset.history.profiles, days: num('--days') ?? preset.history.days, copies: num('--copies') ?? preset.history.copies },
    samples: num('--samples') ?? preset.samples,
  };
  const timeoutSec = num('--timeout');
  // Results of non-preset parameters are named by them, not by the preset they started from.
  const custom = JSON.stringify(size) !== JSON.stringify(preset) || timeoutSec !== undefined;
  const label = custom ? `catalogue-p${size.history.profiles}-c${size.history.copies}-d${size.history.days}${timeoutSec ? `-t${timeoutSec}` : ''}` : `catalogue-${sizeName}`;
  const out = path.resolve(opt('--out') ?? path.resolve(__dirname, '..', '..', 'bench', 'results'));
  const adminUrl = process.env.BENCH_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `${process.env.BENCH_DB_NAME || 'siyu_bench'}_catalogue`;
  const started = performance.now();
  const databaseUrl = await recreateDatabase(adminUrl, dbName);
  let app: SiyuApp | undefined;
  try {
    app = await createApp(benchConfig(databaseUrl, timeoutSec ? { SIYU_DB_TIMEOUT_READ_MS: String(Math.round(timeoutSec * 1000)) } : {}));
    const url = await app.listen(0, '127.0.0.1');
    const c = new Client({ connectionString: databaseUrl });
    await c.connect();
    const machine = await machineFacts(c).finally(() => c.end());
    log(`kpi catalogue: ${JSON.stringify(size)}`);
    const r = await runKpiCatalogue({ app, url, databaseUrl, size, seed: SEED, batchSize: 500, log });
    machine.loadAverage.end = Math.round(os.loadavg()[0] * 100) / 100;
    const date = new Date().toISOString().slice(0, 10);
    const report: Report = {
      title: `Siyu benchmark: KPI catalogue at two history sizes (${label})`,
      date,
      size: label,
      parameters: { ...size, seed: SEED, readBudgetMs: app.config.dbTimeoutMs.read },
      machine,
      comparisons: [],
      scaling: [r.scaling],
      sections: [],
      details: { kpiCatalogue: r.facts },
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
