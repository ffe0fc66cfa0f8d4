/**
 * `npm run bench [-- --size small|full] [--reps n] [--trace-sql]`: Siyu's benchmark harness (see bench/README.md).
 *
 * Speed is always a ratio against a reference measured in the same run on the same machine, never
 * an absolute time asserted. Creates a fresh PostgreSQL database `siyu_bench`, migrates it through
 * the app, runs the cases, drops it, and writes bench/results/<date>-<size>.json and .md.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createApp, type SiyuApp } from '../src/app';
import { loadConfig } from '../src/platform/config';
import type { RawEvent } from '../src/modules/events/event-validation';
import { INGEST_MUTATION, runIngestRep, type IngestFacts, type IngestRep } from './cases/ingest';
import { type ProfileReadSetup } from './cases/profile-read';
import { runProfileSuite } from './cases/profile-suite';
import { runBench1Cases, BENCH_RESOLVERS, type Bench1Size } from './cases/bench1';
import { runKpiFanout, type KpiFanoutParams } from './cases/kpi-fanout';
import { KPI_CATALOGUE_SIZES } from './cases/kpi-catalogue';
import { BENCH_FUNNEL } from './cases/kpi-queries';
import { BASE_SIZES, buildBaseDataset, type BaseDataset, type BaseSize } from './lib/base-dataset';
import { recreateDatabase, dropDatabase } from './lib/db';
import { LoadGenerator } from './lib/load';
import { machineFacts } from './lib/machine';
import { compare, markdown, type Comparison, type Report } from './lib/report';
import { traceStatements, type StatementTime } from './lib/sql-trace';
import { fmt, summarize } from './lib/stats';
import { batches, makeStream, EVENTS_PER_PERSON } from './lib/stream';

interface Size {
  /** The base dataset every case runs on or beside (bench/lib/base-dataset.ts). */
  base: BaseSize;
  /** Events in the ingest stream (case 1). */
  events: number;
  /** Repetitions of each case. */
  reps: number;
  /** Events per ingest call and per COPY statement. */
  batchSize: number;
  /** Case 2: profile ids rotated through, connections, seconds per closed-loop run, warm-up seconds. */
  profiles: number;
  connections: number;
  readSec: number;
  warmupSec: number;
  /** Case 2, open loop at half of Siyu's closed-loop rate: seconds per target. */
  openSec: number;
  /** Cases KPI queries, N+1 guard, identity merges, single-event ingest (bench/cases/bench1.ts). */
  b1: Bench1Size;
  /** Case 3: live KPI fan-out (see bench/cases/kpi-fanout.ts). */
  kpi: KpiFanoutParams;
}

const SIZES: Record<string, Size> = {
  small: { base: BASE_SIZES.small, events: 20_000, reps: 3, batchSize: 500, profiles: 1000, connections: 32, readSec: 3, warmupSec: 1, openSec: 2,
    b1: { identityEvents: 5000, kpiSamples: 15, loadSec: 2, openSec: 2, reps: 2, catalogue: KPI_CATALOGUE_SIZES.small },
    kpi: { subscribers: 500, processes: 2, seconds: 4, reps: 1, intervalMs: 1000, calibrateSec: 1.5, maxRate: 5000, batchSize: 200 } },
  full: { base: BASE_SIZES.full, events: 100_000, reps: 3, batchSize: 500, profiles: 1000, connections: 32, readSec: 20, warmupSec: 5, openSec: 20,
    b1: { identityEvents: 50_000, kpiSamples: 5, loadSec: 10, openSec: 20, reps: 2, catalogue: KPI_CATALOGUE_SIZES.full },
    kpi: { subscribers: 10_000, processes: 4, seconds: 20, reps: 3, intervalMs: 1000, calibrateSec: 5, maxRate: 5000, batchSize: 200 } },
};

const SEED = 20261123;
const DB_NAME = process.env.BENCH_DB_NAME || 'siyu_bench';
const POOL_SIZE = 10;

function parseArgs(argv: string[]): { size: string; reps?: number; traceSql: boolean; keepDb: boolean; adminUrl: string; out: string } {
  let size = 'small';
  let reps: number | undefined;
  let traceSql = false;
  let keepDb = false;
  let adminUrl = process.env.BENCH_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  let out = path.resolve(__dirname, '..', '..', 'bench', 'results');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--size' || a.startsWith('--size=')) size = value();
    else if (a === '--reps' || a.startsWith('--reps=')) {
      reps = Number(value());
      if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
    } else if (a === '--trace-sql') traceSql = true;
    else if (a === '--keep-db') keepDb = true;
    else if (a === '--admin-url' || a.startsWith('--admin-url=')) adminUrl = value();
    else if (a === '--out' || a.startsWith('--out=')) out = path.resolve(value());
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench [-- --size small|full] [--reps n] [--trace-sql] [--keep-db] [--admin-url postgres://…/postgres] [--out dir]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (see --help)`);
  }
  if (!SIZES[size]) throw new Error(`--size must be one of ${Object.keys(SIZES).join(', ')}`);
  return { size, reps, traceSql, keepDb, adminUrl, out };
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);
let interrupted: NodeJS.Signals | undefined;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const size = { ...SIZES[args.size], ...(args.reps ? { reps: args.reps } : {}) };
  const started = performance.now();
  const date = new Date().toISOString().slice(0, 10);
  log(`siyu bench: size ${args.size} (base ${(size.base.templateEvents * size.base.copies).toLocaleString('en-US')} events; ${size.events.toLocaleString('en-US')} events per ingest pass, ${size.reps} repetitions)`);

  const databaseUrl = await recreateDatabase(args.adminUrl, DB_NAME);
  const piiKey = randomBytes(32);
  let app: SiyuApp | undefined;
  let load: LoadGenerator | undefined;
  let read: ProfileReadSetup | undefined;
  // Interrupted (Ctrl-C, SIGTERM): still leave no database behind (DROP … WITH (FORCE) ends the app's connections).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = signal;
      log(`${signal}: dropping ${DB_NAME} and stopping`);
      // Open connections now fail (terminated by the DROP): expected, nothing to report.
      process.on('uncaughtException', () => {});
      load?.close();
      dropDatabase(args.adminUrl, DB_NAME).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  try {
    app = await createApp(
      loadConfig({
        DATABASE_URL: databaseUrl,
        DATABASE_POOL_SIZE: String(POOL_SIZE),
        SIYU_PII_KEY: piiKey.toString('base64'),
        SIYU_AUTO_MIGRATE: 'true',
        LOG_LEVEL: 'warn',
        SIYU_SWEEP_INTERVAL_MS: '0',
        SIYU_RATE_LIMIT_PER_SEC: '1000000',
        SIYU_INGEST_RATE_LIMIT_PER_SEC: '1000000',
      }),
      { extraResolvers: BENCH_RESOLVERS },
    );
    const url = await app.listen(0, '127.0.0.1');
    const machine = await (async () => {
      const c = new Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        // The run's PII key, for follow-up runs on a kept database (--keep-db; a throwaway key of a throwaway database).
        await c.query('CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)');
        await c.query(`INSERT INTO bench_meta VALUES ('piiKey', to_jsonb($1::text)) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [piiKey.toString('base64')]);
        return await machineFacts(c);
      } finally {
        await c.end();
      }
    })();
    log(`  ${machine.cpuModel}, ${machine.cores} cores; Node ${machine.node}; PostgreSQL ${machine.postgres}`);

    const end = new Date(`${date}T00:00:00Z`);
    // ---- Base dataset: what the read cases read and the write cases write beside ----------------
    const base: BaseDataset = await buildBaseDataset({ app, databaseUrl, size: size.base, seed: SEED + 100, end, batchSize: size.batchSize, savedFunnels: [BENCH_FUNNEL], log });

    // ---- Case 1: ingest ------------------------------------------------------------------------
    const { events, stats } = makeStream(size.events, SEED, end);
    // Warm-up (not measured): JIT, pool connections, plan caches — a different, small stream.
    {
      const warm = makeStream(1000, SEED + 7, end).events;
      const ws = (await app.services.workspaces.createWorkspace('bench warm-up', undefined)).workspace.id;
      for (const b of batches(warm, size.batchSize)) await app.services.ingest.ingest(ws, b as RawEvent[]);
      const admin = await app.services.workspaces.createWorkspace('bench warm-up http', undefined);
      for (const b of batches(makeStream(500, SEED + 8, end).events, size.batchSize)) {
        const res = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.key}` },
          body: JSON.stringify({ query: INGEST_MUTATION, variables: { e: b } }),
        });
        await res.arrayBuffer();
      }
    }
    const ctx = { app, url, databaseUrl, events, batchSize: size.batchSize, log };
    const ingestReps: IngestRep[] = [];
    let facts: IngestFacts | null = null;
    const readWorkspace = base.workspaceId;
    for (let rep = 0; rep < size.reps; rep++) {
      log(`  case 1 ingest, repetition ${rep + 1}/${size.reps}`);
      const r = await runIngestRep(ctx, rep, facts);
      ingestReps.push(r.rep);
      facts = r.facts;
    }

    let trace: { wallMs: number; statements: StatementTime[] } | undefined;
    if (args.traceSql) {
      log('  tracing the statements of one in-process ingest (not measured)');
      const ws = (await app.services.workspaces.createWorkspace('bench trace', undefined)).workspace.id;
      const siyu = app;
      trace = await traceStatements(async () => {
        for (const b of batches(events, size.batchSize)) await siyu.services.ingest.ingest(ws, b as RawEvent[]);
      });
    }

    // ---- Cases 2 and 2b: profile-360 read ---------------------------------------------------------
    load = new LoadGenerator();
    const profile = await runProfileSuite({ app, url, databaseUrl, piiKey, workspaceId: readWorkspace, dataNote: 'the base dataset', seed: SEED, poolSize: POOL_SIZE, load, size, log });
    read = profile.read;

    log(`  case 3 live KPI fan-out: ${size.kpi.subscribers} subscribers, ${size.kpi.seconds} s`);
    const kpi = await runKpiFanout({ app, url, seed: SEED, params: size.kpi, log });

    const kpiData = {
      workspaceId: base.workspaceId,
      description: `the base dataset (${fmt(base.counts.events, 0)} events, ${fmt(base.counts.liveProfiles, 0)} live profiles over ${base.size.days} days; rollups ${fmt(base.counts.kpiActivityRows, 0)} \`kpi_activity\` rows).`,
      lastDay: base.lastDay,
      tz: base.tz,
      funnel: BENCH_FUNNEL.steps,
    };
    const b1 = await runBench1Cases({ app, url, databaseUrl, load, data: kpiData, size: size.b1, seed: SEED, end, batchSize: size.batchSize, log });

    // ---- Report ------------------------------------------------------------------------------------
    const ingestTarget = { target: 0.5, targetNote: args.size === 'full' ? undefined : 'at full size' };
    const comparisons: Comparison[] = [
      compare({ case: '1 ingest', metric: 'events/s', higherIsBetter: true, siyuName: 'service in-process, 500/call', siyu: ingestReps.map((r) => r.siyuInProcess), referenceName: 'COPY, 500 rows/statement', reference: ingestReps.map((r) => r.copy500), ...ingestTarget }),
      compare({ case: '1 ingest', metric: 'events/s', higherIsBetter: true, siyuName: 'GraphQL ingestEvents over HTTP, 500/request', siyu: ingestReps.map((r) => r.siyuHttp), referenceName: 'COPY, 500 rows/statement', reference: ingestReps.map((r) => r.copy500), ...ingestTarget }),
      compare({ case: '1 ingest', metric: 'events/s', higherIsBetter: true, siyuName: 'service in-process, 500/call', siyu: ingestReps.map((r) => r.siyuInProcess), referenceName: 'one COPY of all rows', reference: ingestReps.map((r) => r.copyBig), target: null }),
      compare({ case: '1 ingest', metric: 'events/s', higherIsBetter: true, siyuName: 'GraphQL ingestEvents over HTTP, 500/request', siyu: ingestReps.map((r) => r.siyuHttp), referenceName: 'one COPY of all rows', reference: ingestReps.map((r) => r.copyBig), target: null }),
      ...profile.comparisons,
      ...kpi.comparisons,
    ];

    const f = facts!;
    const perTenth = (k: 'inProcessFirstTenth' | 'inProcessLastTenth') => fmt(summarize(ingestReps.map((r) => r[k])).median, 0);
    const bt = base.template;
    const sections: Report['sections'] = [
      {
        title: 'Base dataset',
        lines: [
          `- Template: ${fmt(bt.events, 0)} events of ${fmt(bt.people, 0)} people over ${base.size.days} days (the case-1 stream generator, seed ${SEED + 100}) ingested through Siyu's ingest service in ${fmt(bt.ingestSec, 0)} s (${fmt(bt.eventsPerSec, 0)} events/s): identity resolution, read models and rollups exactly as ingest writes them.`,
          `- Copied ${base.size.copies - 1} times into the same workspace by set-based SQL (own profile ids, message ids and identifier keys per copy; bench/lib/base-dataset.ts) in ${fmt(base.copySec, 0)} s, then VACUUM ANALYZE (${fmt(base.vacuumSec, 0)} s).`,
          `- Result: ${fmt(base.counts.events, 0)} events, ${fmt(base.counts.liveProfiles, 0)} live profiles (${fmt(base.counts.profiles, 0)} incl. merged-away), ${fmt(base.counts.identifiers, 0)} identifiers, ${fmt(base.counts.kpiActivityRows, 0)} \`kpi_activity\` rows, ${fmt(base.counts.profileTags, 0)} tag assignments, ${fmt(base.counts.segmentMembers, 0)} segment memberships; database ${fmt(base.databaseBytes / 2 ** 30, 2)} GiB.`,
          '- Cases 2, 2b, KPI queries and the N+1 guard read this workspace; cases 1, 3, identity merges and single-event ingest write fresh workspaces beside it (same tables and indexes).',
        ],
      },
      {
        title: 'Case 1: ingest',
        lines: [
          `- Stream: ${fmt(stats.events, 0)} events (seed ${SEED}) from ${fmt(stats.people, 0)} people (${EVENTS_PER_PERSON} events/person; WeChat unionid/openids, WeCom, phone, member id, devices, anonymous ids; 1 in 50 share a family device), 1–2 identifiers per event; no duplicates generated. Kinds: ${Object.entries(stats.byKind).map(([k, v]) => `${k} ${fmt((100 * v) / stats.events, 0)}%`).join(', ')}.`,
          `- Links (events with ≥ 2 identifiers): ${fmt(stats.links, 0)}; ${fmt((100 * stats.mergingLinks) / stats.links, 1)}% of them join two profiles (plain union-find). Siyu (repetition 1): ${fmt(f.profilesCreated, 0)} profiles created, ${fmt(f.merges, 0)} merges (${fmt((100 * f.merges) / stats.links, 1)}% of links), ${fmt(f.conflicts, 0)} conflicts, ${fmt(f.liveProfiles, 0)} live profiles, ${fmt(f.identifiers, 0)} identifiers, ${fmt(f.relations, 0)} relations, ${fmt(f.segmentMemberships, 0)} segment memberships, ${fmt(f.tagAssignments, 0)} tag assignments.`,
          `- Verified every repetition: ${f.verified.join('; ')}.`,
          `- Storage (growth of the tables incl. indexes in repetition 1): Siyu writes ${fmt(f.siyuAllTablesBytesPerEvent, 0)} bytes/event over all its tables; COPY grows \`events\` by ${fmt(f.eventsTableBytesPerEvent, 0)} bytes/event.`,
          `- In-process rate over the first tenth of the batches: ${perTenth('inProcessFirstTenth')} events/s; over the last tenth: ${perTenth('inProcessLastTenth')} events/s (medians over repetitions).`,
          `- HTTP ingest sends one request at a time (a batch of one workspace is serialised by an advisory lock anyway), bodies serialised before timing; the mutation asks for per-event results as \`siyu import --url\` does.`,
        ],
      },
      ...profile.sections,
    ];
    comparisons.push(...b1.comparisons);
    sections.push(...b1.sections);
    sections.push(kpi.section);
    if (trace) {
      const sqlMs = trace.statements.reduce((n, s) => n + s.totalMs, 0);
      sections.push({
        title: 'Where the in-process ingest time goes (--trace-sql, one extra unmeasured pass)',
        lines: [
          `Wall ${fmt(trace.wallMs / 1000, 2)} s; statements ${fmt(sqlMs / 1000, 2)} s (${fmt((100 * sqlMs) / trace.wallMs, 0)}%, incl. waiting for a pooled connection); the rest (${fmt((100 * (trace.wallMs - sqlMs)) / trace.wallMs, 0)}%) is JavaScript: validation, normalisation, HMAC/encryption, identity resolution, aggregates, tag/segment evaluation.`,
          '',
          '| statement (first 90 characters) | calls | total ms | share of wall |',
          '|---|---:|---:|---:|',
          ...trace.statements.slice(0, 20).map((s) => `| \`${s.statement.replace(/\|/g, '\\|')}\` | ${s.calls} | ${fmt(s.totalMs, 0)} | ${fmt((100 * s.totalMs) / trace!.wallMs, 1)}% |`),
        ],
      });
    }
    sections.push({
      title: 'Sizes',
      lines: Object.entries(SIZES).map(([name, s]) => `- \`${name}\`: ${Object.entries(s).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ')}`),
    });

    machine.loadAverage.end = Math.round(os.loadavg()[0] * 100) / 100;
    const report: Report = {
      title: `Siyu benchmark (${args.size})`,
      date,
      size: args.size,
      parameters: { ...size, seed: SEED, poolSize: POOL_SIZE },
      machine,
      comparisons,
      scaling: b1.scaling,
      sections,
      details: { base, bench1: b1.details, stream: stats, ingestFacts: f, ingestReps, ...profile.details, trace, kpiFanout: kpi.details },
      durationSec: (performance.now() - started) / 1000,
    };
    const md = markdown(report);
    fs.mkdirSync(args.out, { recursive: true });
    const file = path.join(args.out, `${date}-${args.size}`);
    fs.writeFileSync(`${file}.json`, JSON.stringify(report, null, 2) + '\n');
    fs.writeFileSync(`${file}.md`, md);
    process.stdout.write(md);
    log(`wrote ${file}.json and ${file}.md (${fmt(report.durationSec, 0)} s)`);
  } finally {
    load?.close();
    await read?.bareServer.close().catch(() => {});
    await app?.stop().catch((err: unknown) => log(`stopping the app: ${String(err)}`));
    // --keep-db: leave the database (base dataset included) for a follow-up run of one case, e.g. run-profile.ts.
    if (args.keepDb) log(`kept database ${DB_NAME} (--keep-db); drop it with: psql … -c 'DROP DATABASE ${DB_NAME}'`);
    else await dropDatabase(args.adminUrl, DB_NAME);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    // Interrupted: the signal handler drops the database and exits; what failed meanwhile is its echo.
    if (interrupted) return;
    log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
