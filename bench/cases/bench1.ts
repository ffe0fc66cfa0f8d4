import type { SiyuApp } from '../../src/app';
import type { LoadGenerator } from '../lib/load';
import type { Comparison, Report, Scaling } from '../lib/report';
import { makeStream } from '../lib/stream';
import { runIdentityMerges } from './identity-merges';
import { runKpiCatalogue, type KpiCatalogueSize } from './kpi-catalogue';
import { runKpiQueries, type KpiData } from './kpi-queries';
import { runNPlusOne } from './n-plus-one';
import { runSingleIngest } from './single-ingest';

export { BENCH_RESOLVERS } from './single-ingest';

/** Size parameters of the four cases below (SIZES in run.ts). */
export interface Bench1Size {
  /** Events in the identity-merge stream. */
  identityEvents: number;
  /** Sequential requests per query, side and repetition (KPI queries). */
  kpiSamples: number;
  /** Seconds per closed-loop run (N+1 guard, single-event ingest) and of the open loop. */
  loadSec: number;
  openSec: number;
  reps: number;
  /** KPI catalogue at two history sizes (bench/cases/kpi-catalogue.ts). */
  catalogue: KpiCatalogueSize;
}

/**
 * KPI queries, N+1 guard, identity merges and single-event ingest, one after the other; then the
 * KPI catalogue at two history sizes, last, so that its two workspaces do not grow the tables the
 * other cases measure.
 */
export async function runBench1Cases(o: {
  app: SiyuApp;
  url: string;
  databaseUrl: string;
  load: LoadGenerator;
  /** The base dataset's workspace, read by the KPI queries and the N+1 guard. */
  data: KpiData;
  size: Bench1Size;
  seed: number;
  end: Date;
  batchSize: number;
  log: (m: string) => void;
}): Promise<{ comparisons: Comparison[]; sections: Report['sections']; scaling: Scaling[]; details: Record<string, unknown> }> {
  const { app, url, size, log } = o;
  const t0 = performance.now();
  const data = o.data;
  log(`  KPI queries on the base dataset`);
  const kpi = await runKpiQueries({ app, url, databaseUrl: o.databaseUrl, data, reps: size.reps, samples: size.kpiSamples, log });
  log(`  N+1 guard: profiles(first: 2/10/50), DataLoader on/off`);
  const n1 = await runNPlusOne({ app, url, load: o.load, workspaceId: data.workspaceId, reps: size.reps, connections: 16, durationSec: size.loadSec, log });
  log(`  identity merges: ${size.identityEvents} events`);
  const { events, stats } = makeStream(size.identityEvents, o.seed + 1, o.end);
  const idm = await runIdentityMerges({ app, databaseUrl: o.databaseUrl, events, stats, batchSize: o.batchSize, reps: size.reps, log });
  log(`  single-event ingest: 64 connections`);
  const single = await runSingleIngest({ app, url, load: o.load, reps: size.reps, connections: 64, durationSec: size.loadSec, openSec: size.openSec, people: 2000, log });
  log(`  KPI catalogue at two history sizes`);
  const catalogue = await runKpiCatalogue({ app, url, databaseUrl: o.databaseUrl, size: size.catalogue, seed: o.seed, batchSize: o.batchSize, log });
  const sec = (performance.now() - t0) / 1000;
  log(`  bench1 cases: ${Math.round(sec)} s`);
  return {
    comparisons: [...kpi.comparisons, ...n1.comparisons, ...idm.comparisons, ...single.comparisons],
    sections: [
      { title: 'KPI queries (GraphQL on rollups vs naive SQL on events)', lines: kpi.lines },
      { title: 'N+1 guard (DataLoader on vs off)', lines: n1.lines },
      { title: 'Identity merges (ingest vs identifier upsert)', lines: idm.lines },
      { title: 'Single-event ingest, 64 connections (vs a no-op mutation)', lines: single.lines },
    ],
    scaling: [catalogue.scaling],
    details: { seconds: sec, kpiCatalogue: catalogue.facts, kpiQueries: kpi.facts, nPlusOne: n1.facts, identity: idm.reps, singleIngest: { reps: single.reps, open: single.open, openRate: single.openRate } },
  };
}
