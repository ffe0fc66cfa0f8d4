/**
 * `node dist/bench/run-kpi.js [--subscribers n] [--processes n] [--seconds s] [--reps n] [--interval ms]`
 * (after `tsc -p bench/tsconfig.json`): case 3 (live KPI fan-out) alone, for sizes the full harness
 * cannot reach in a session (its case 1 ingests 3 × 2 × 1M events first). Same database handling as
 * bench/run.ts (database `${BENCH_DB_NAME ?? 'siyu_bench'}_kpi`, created and dropped); writes
 * bench/results/<date>-kpi-<subscribers>.json and .md.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createApp, type SiyuApp } from '../src/app';
import { loadConfig } from '../src/platform/config';
import { runKpiFanout, type KpiFanoutParams } from './cases/kpi-fanout';
import { dropDatabase, recreateDatabase } from './lib/db';
import { machineFacts } from './lib/machine';
import { runStandalone, saveReport, type Report } from './lib/report';

const log = (m: string) => process.stderr.write(`${m}\n`);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const num = (flag: string, dflt: number) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const params: KpiFanoutParams = {
    subscribers: num('--subscribers', 10_000),
    processes: num('--processes', 4),
    seconds: num('--seconds', 20),
    reps: num('--reps', 3),
    intervalMs: num('--interval', 1000),
    calibrateSec: num('--calibrate', 5),
    maxRate: 5000,
    batchSize: 200,
  };
  const adminUrl = process.env.BENCH_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `${process.env.BENCH_DB_NAME || 'siyu_bench'}_kpi`;
  const started = performance.now();
  const databaseUrl = await recreateDatabase(adminUrl, dbName);
  let app: SiyuApp | undefined;
  try {
    app = await createApp(
      loadConfig({ DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: '10', SIYU_PII_KEY: randomBytes(32).toString('base64'), SIYU_AUTO_MIGRATE: 'true', LOG_LEVEL: 'warn', SIYU_SWEEP_INTERVAL_MS: '0' }),
    );
    const url = await app.listen(0, '127.0.0.1');
    const c = new Client({ connectionString: databaseUrl });
    await c.connect();
    const machine = await machineFacts(c).finally(() => c.end());
    log(`kpi fan-out: ${params.subscribers} subscribers, ${params.processes} client processes, ${params.reps} × ${params.seconds} s`);
    const r = await runKpiFanout({ app, url, seed: 20261123, params, log });
    machine.loadAverage.end = Math.round(os.loadavg()[0] * 100) / 100;
    const date = new Date().toISOString().slice(0, 10);
    const report: Report = {
      title: `Siyu benchmark: live KPI fan-out, ${params.subscribers} subscribers`,
      date,
      size: `kpi-${params.subscribers}`,
      parameters: { ...params },
      machine,
      comparisons: r.comparisons,
      sections: [r.section],
      details: r.details,
      durationSec: (performance.now() - started) / 1000,
    };
    saveReport(path.resolve(__dirname, '..', '..', 'bench', 'results'), `${date}-kpi-${params.subscribers}`, report);
  } finally {
    await app?.stop().catch(() => undefined);
    await dropDatabase(adminUrl, dbName);
  }
}

runStandalone(main);
