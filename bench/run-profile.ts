/**
 * `node dist/bench/run-profile.js [--reps n] [--seconds s] [--out dir]` (after `tsc -p bench/tsconfig.json`):
 * cases 2 and 2b (profile 360 vs the bare handler and PostGraphile) alone, on the base dataset of a
 * database kept by `npm run bench -- --size full --keep-db` (database `${BENCH_DB_NAME ?? 'siyu_bench'}`,
 * whose `bench_meta` table holds the base workspace and the run's PII key). For measuring a change
 * to the read path at full size without rebuilding the 10 M-event dataset. Writes
 * `<out>/<date>-profile.json` and `.md`; leaves the database as it found it (plus API keys).
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createApp, type SiyuApp } from '../src/app';
import { loadConfig } from '../src/platform/config';
import { runProfileSuite } from './cases/profile-suite';
import type { ProfileReadSetup } from './cases/profile-read';
import type { BaseDataset } from './lib/base-dataset';
import { databaseUrl as urlOf } from './lib/db';
import { LoadGenerator } from './lib/load';
import { machineFacts } from './lib/machine';
import { markdown, type Report } from './lib/report';
import { fmt } from './lib/stats';

const log = (m: string) => process.stderr.write(`${m}\n`);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const reps = Number(opt('--reps') ?? 3);
  const seconds = Number(opt('--seconds') ?? 20);
  const out = path.resolve(opt('--out') ?? path.join(__dirname, '..', '..', 'bench', 'results'));
  const adminUrl = process.env.BENCH_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const databaseUrl = urlOf(adminUrl, process.env.BENCH_DB_NAME || 'siyu_bench');
  const started = performance.now();
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  const meta = new Map((await c.query<{ key: string; value: unknown }>('SELECT key, value FROM bench_meta')).rows.map((r) => [r.key, r.value]));
  const base = meta.get('base') as BaseDataset | undefined;
  const piiKey = meta.get('piiKey') as string | undefined;
  if (!base || !piiKey) throw new Error('no base dataset recorded in bench_meta: run `npm run bench -- --keep-db` first');
  const machine = await machineFacts(c).finally(() => c.end());
  let app: SiyuApp | undefined;
  let read: ProfileReadSetup | undefined;
  const load = new LoadGenerator();
  try {
    app = await createApp(
      loadConfig({ DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: '10', SIYU_PII_KEY: piiKey, LOG_LEVEL: 'warn', SIYU_SWEEP_INTERVAL_MS: '0', SIYU_RATE_LIMIT_PER_SEC: '1000000' }),
    );
    const url = await app.listen(0, '127.0.0.1');
    const dataNote = `the kept base dataset (${fmt(base.counts.events, 0)} events, ${fmt(base.counts.liveProfiles, 0)} live profiles)`;
    log(`profile 360 on ${dataNote}: ${reps} × ${seconds} s`);
    const size = { profiles: 1000, connections: 32, readSec: seconds, warmupSec: 5, openSec: seconds, reps };
    const r = await runProfileSuite({ app, url, databaseUrl, piiKey: Buffer.from(piiKey, 'base64'), workspaceId: base.workspaceId, dataNote, seed: 20261123, poolSize: 10, load, size, log });
    read = r.read;
    machine.loadAverage.end = Math.round(os.loadavg()[0] * 100) / 100;
    const date = new Date().toISOString().slice(0, 10);
    const report: Report = {
      title: 'Siyu benchmark: profile 360 on the full base dataset',
      date,
      size: 'profile',
      parameters: { ...size, base: base.size },
      machine,
      comparisons: r.comparisons,
      sections: r.sections,
      details: r.details,
      durationSec: (performance.now() - started) / 1000,
    };
    fs.mkdirSync(out, { recursive: true });
    const file = path.join(out, `${date}-profile`);
    fs.writeFileSync(`${file}.json`, JSON.stringify(report, null, 2) + '\n');
    fs.writeFileSync(`${file}.md`, markdown(report));
    process.stdout.write(markdown(report));
  } finally {
    load.close();
    await read?.bareServer.close().catch(() => {});
    await app?.stop().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
