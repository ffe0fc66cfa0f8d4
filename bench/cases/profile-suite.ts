import type { SiyuApp } from '../../src/app';
import type { LoadGenerator } from '../lib/load';
import { compare, type Comparison, type Report } from '../lib/report';
import { fmt, summarize } from '../lib/stats';
import { runProfilePostgraphile } from './profile-postgraphile';
import { runOpenLoop, runReadRep, setupProfileRead, warmUp, PROFILE_QUERY, type ProfileReadSetup } from './profile-read';

/** Parameters of cases 2 and 2b (SIZES in run.ts). */
export interface ProfileSuiteSize {
  profiles: number;
  connections: number;
  readSec: number;
  warmupSec: number;
  openSec: number;
  reps: number;
}

/**
 * Cases 2 and 2b together — profile 360 through Siyu's GraphQL against the bare handler (closed loop,
 * then open loop at half of Siyu's rate) and against PostGraphile — on one workspace. Used by
 * bench/run.ts (on the base dataset) and bench/run-profile.ts (on a database kept by `--keep-db`).
 */
export async function runProfileSuite(o: {
  app: SiyuApp;
  url: string;
  databaseUrl: string;
  piiKey: Buffer;
  workspaceId: string;
  /** What the workspace holds, for the report. */
  dataNote: string;
  seed: number;
  poolSize: number;
  load: LoadGenerator;
  size: ProfileSuiteSize;
  log: (m: string) => void;
}): Promise<{ read: ProfileReadSetup; comparisons: Comparison[]; sections: Report['sections']; details: Record<string, unknown> }> {
  const { load, size, log } = o;
  log(`  case 2 profile read: ${size.profiles} profiles, ${size.connections} connections, ${size.readSec} s per run`);
  const read = await setupProfileRead({ app: o.app, url: o.url, databaseUrl: o.databaseUrl, piiKey: o.piiKey, workspaceId: o.workspaceId, seed: o.seed, count: size.profiles, poolSize: o.poolSize });
  if (read.identical !== read.compared) {
    log(`  WARNING: ${read.compared - read.identical}/${read.compared} answers differ, e.g. ${JSON.stringify(read.mismatchExample).slice(0, 2000)}`);
  }
  await warmUp(load, read, size.connections, size.warmupSec);
  const readReps = [];
  for (let rep = 0; rep < size.reps; rep++) {
    const r = await runReadRep(load, read, rep, size.connections, size.readSec);
    log(`    repetition ${rep + 1}/${size.reps}: Siyu ${fmt(r.siyu.rps, 0)} req/s, bare ${fmt(r.bare.rps, 0)} req/s`);
    readReps.push(r);
  }
  const openRate = Math.max(1, Math.round(summarize(readReps.map((r) => r.siyu.rps)).median / 2));
  log(`  case 2 open loop at ${openRate} req/s (half of Siyu's closed-loop rate), ${size.openSec} s per target`);
  const open = await runOpenLoop(load, read, openRate, size.openSec);
  log('  case 2b profile read vs PostGraphile');
  const pgl = await runProfilePostgraphile({
    load,
    read,
    databaseUrl: o.databaseUrl,
    piiKey: o.piiKey,
    workspaceId: o.workspaceId,
    poolSize: o.poolSize,
    connections: size.connections,
    readSec: size.readSec,
    warmupSec: size.warmupSec,
    siyuReps: readReps.map((r) => r.siyu),
    openRate,
    openSec: size.openSec,
    siyuOpen: open.siyu,
    bareReps: readReps.map((r) => r.bare.rps),
    log,
  });
  const siyuName = 'GraphQL profile(id), READ key';
  const bareName = 'bare node:http + pg, one SQL';
  const comparisons: Comparison[] = [
    compare({ case: '2 profile 360', metric: 'requests/s (closed loop)', higherIsBetter: true, siyuName, siyu: readReps.map((r) => r.siyu.rps), referenceName: bareName, reference: readReps.map((r) => r.bare.rps), target: 0.5 }),
    compare({ case: '2 profile 360', metric: 'p50 latency ms (closed loop)', higherIsBetter: false, siyuName, siyu: readReps.map((r) => r.siyu.latencyMs.p50), referenceName: bareName, reference: readReps.map((r) => r.bare.latencyMs.p50), target: null }),
    compare({ case: '2 profile 360', metric: 'p99 latency ms (closed loop)', higherIsBetter: false, siyuName, siyu: readReps.map((r) => r.siyu.latencyMs.p99), referenceName: bareName, reference: readReps.map((r) => r.bare.latencyMs.p99), target: null }),
    ...pgl.comparisons,
  ];
  const failures = readReps.flatMap((r) => [r.siyu, r.bare]).reduce((n, r) => n + r.errors + r.timeouts + r.non2xx + r.mismatches, 0);
  const sections: Report['sections'] = [
    {
      title: 'Case 2: profile 360',
      lines: [
        `- Query: \`${PROFILE_QUERY}\`, ${fmt(read.ids.length, 0)} random live profiles of ${o.dataNote}, rotated; autocannon in a child process, ${size.connections} connections, ${size.readSec} s per run after a ${size.warmupSec} s warm-up of each; the order of Siyu and the bare handler alternates between repetitions. Both servers in the bench process, pool size ${o.poolSize} each.`,
        `- Same data: ${read.identical}/${read.compared} sampled answers identical (segments compared as a set). Failed requests (errors, timeouts, non-2xx, bodies with errors) over all runs: ${failures}.`,
        `- Open loop at a fixed ${fmt(openRate, 0)} req/s (half of Siyu's closed-loop median), ${size.openSec} s each, latency from the intended send time (HDR histogram, no coordinated omission):`,
        '',
        '| target | sent | failed | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |',
        '|---|---:|---:|---:|---:|---:|---:|---:|',
        ...(['siyu', 'bare'] as const).map((k) => {
          const r = open[k];
          const l = r.latencyMs;
          return `| ${k === 'siyu' ? 'Siyu GraphQL' : 'bare handler'} | ${fmt(r.sent, 0)} | ${r.failed} | ${fmt(l.p50, 2)} | ${fmt(l.p90, 2)} | ${fmt(l.p99, 2)} | ${fmt(l.p999, 2)} | ${fmt(l.max, 2)} |`;
        }),
      ],
    },
    pgl.section,
  ];
  return {
    read,
    comparisons,
    sections,
    details: { readReps, openLoop: open, readSetup: { compared: read.compared, identical: read.identical, mismatchExample: read.mismatchExample }, postgraphile: pgl.details },
  };
}
