import type { SiyuApp } from '../../src/app';
import { Role } from '../../src/platform/auth';
import { systemActor } from '../../src/modules/compliance';
import { LoaderRegistry } from '../../src/platform/graphql/loaders';
import type { LoadGenerator } from '../lib/load';
import { compare, type Comparison } from '../lib/report';
import { traceStatements } from '../lib/sql-trace';
import { fmt } from '../lib/stats';
import type { ClosedResult, LoadTarget } from '../load-worker';

/**
 * N+1 guard: a page of profiles with identifiers, traits, relations and the inviter (the query of
 * tests/integration/profiles.test.ts "DataLoader batching") in the normal build against the same
 * build with DataLoader batching and caching off (`LoaderRegistry.batching = false`, a code-only
 * switch: every `ctx.loaders.get` then returns a loader that runs one query per key).
 */
export const PROFILES_QUERY =
  'query($first:Int!){profiles(first:$first){edges{cursor node{id channels identifiers{type namespace value masked} traits{name value} relations{kind direction otherProfileId staffId} invitedBy{id}}}}}';

export interface NPlusOneFacts {
  /** SQL statements per request, by list length, in each build. */
  statements: { first: number; batched: number; unbatched: number }[];
}

export async function runNPlusOne(opts: {
  app: SiyuApp;
  url: string;
  load: LoadGenerator;
  workspaceId: string;
  reps: number;
  connections: number;
  durationSec: number;
  log: (m: string) => void;
}): Promise<{ comparisons: Comparison[]; facts: NPlusOneFacts; lines: string[] }> {
  const { key } = await opts.app.services.workspaces.createApiKey(systemActor(opts.workspaceId), { role: Role.READ, name: 'bench n+1' });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const body = (first: number) => JSON.stringify({ query: PROFILES_QUERY, variables: { first } });
  const request = async (first: number) => {
    const res = await fetch(`${opts.url}/graphql`, { method: 'POST', headers, body: body(first) });
    const r = (await res.json()) as { data?: { profiles: { edges: unknown[] } }; errors?: unknown };
    if (r.errors || r.data?.profiles.edges.length !== first) throw new Error(`profiles(first: ${first}): ${JSON.stringify(r.errors ?? r.data).slice(0, 500)}`);
  };
  const withBatching = async <T>(on: boolean, fn: () => Promise<T>): Promise<T> => {
    LoaderRegistry.batching = on;
    try {
      return await fn();
    } finally {
      LoaderRegistry.batching = true;
    }
  };
  await opts.app.services.kpis.alerts.idle();
  const count = async (first: number) => {
    await request(first); // warm (key cache, plans)
    const t = await traceStatements(() => request(first));
    return t.statements.reduce((n, s) => n + s.calls, 0);
  };
  const facts: NPlusOneFacts = { statements: [] };
  for (const first of [2, 10, 50]) {
    const batched = await count(first);
    const unbatched = await withBatching(false, () => count(first));
    facts.statements.push({ first, batched, unbatched });
  }
  opts.log(`    statements per request (batched / unbatched): ${facts.statements.map((s) => `${s.first}: ${s.batched}/${s.unbatched}`).join(', ')}`);

  const target: LoadTarget = { url: opts.url, path: '/graphql', headers, bodies: [body(50)], expect: '"profiles":{' };
  const run = () => opts.load.run<ClosedResult>({ kind: 'closed', ...target, connections: opts.connections, durationSec: opts.durationSec });
  await run();
  await withBatching(false, run);
  const batched: ClosedResult[] = [];
  const unbatched: ClosedResult[] = [];
  for (let rep = 0; rep < opts.reps; rep++) {
    // Alternate the order, so drift does not favour one build.
    if (rep % 2 === 0) {
      batched.push(await run());
      unbatched.push(await withBatching(false, run));
    } else {
      unbatched.push(await withBatching(false, run));
      batched.push(await run());
    }
    opts.log(`    repetition ${rep + 1}/${opts.reps}: DataLoader ${fmt(batched[rep].rps, 0)} req/s, without ${fmt(unbatched[rep].rps, 0)} req/s`);
  }
  const failures = [...batched, ...unbatched].reduce((n, r) => n + r.errors + r.timeouts + r.non2xx + r.mismatches, 0);
  const comparisons = [
    compare({
      case: 'N+1 guard',
      metric: 'requests/s, profiles(first: 50) with relations',
      higherIsBetter: true,
      siyuName: 'Siyu (per-operation DataLoader)',
      siyu: batched.map((r) => r.rps),
      referenceName: 'same build, DataLoader off',
      reference: unbatched.map((r) => r.rps),
      target: 5,
    }),
  ];
  const lines = [
    `- Query: \`${PROFILES_QUERY}\` (READ key) on the demo workspace; the reference is the same server with \`LoaderRegistry.batching = false\` (code-only switch in src/platform/graphql/loaders.ts: every loader then has \`batch: false, cache: false\`).`,
    `- SQL statements per request (every statement sent through TypeORM, counted by bench/lib/sql-trace.ts, after one warm request):`,
    '',
    '| list length | with DataLoader | without |',
    '|---:|---:|---:|',
    ...facts.statements.map((s) => `| ${s.first} | ${s.batched} | ${s.unbatched} |`),
    '',
    `- Throughput: autocannon in a child process, ${opts.connections} connections, ${opts.durationSec} s per run, order alternating; failed requests over all runs: ${failures}. p99 latency with / without DataLoader: ${fmt(batched[0].latencyMs.p99, 0)} / ${fmt(unbatched[0].latencyMs.p99, 0)} ms (repetition 1).`,
  ];
  return { comparisons, facts, lines };
}
