import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Pool } from 'pg';
import '../lib/postgraphile-realm';
import { postgraphile } from 'postgraphile';
import { makePgSmartTagsFromFilePlugin } from 'postgraphile/plugins';
import { PII_TYPES, PiiCipher, maskEmail, maskPhone } from '../../src/modules/identities';
import type { LoadGenerator } from '../lib/load';
import { compare, type Comparison } from '../lib/report';
import { traceStatements } from '../lib/sql-trace';
import { fmt } from '../lib/stats';
import type { ClosedResult, LoadTarget, OpenResult } from '../load-worker';
import { PROFILE_QUERY, type ProfileReadSetup } from './profile-read';

/**
 * Case 2b: the same profile-360 read against PostGraphile 4.14.1 over the same tables, in this
 * process (its `postgraphile(pool, 'public', …)` handler on its own `node:http` server, pool of the
 * same size), against Siyu's closed-loop repetitions of case 2 (same settings, measured just before).
 *
 * Siyu's tables carry no foreign keys to `profiles` (distribution keys, Citus-ready), so PostGraphile
 * is told the relations by smart tags (`@foreignKey`, written to a temporary tags file — nothing in
 * the database changes). The equivalent query asks for the same fields; PostGraphile does less than
 * Siyu for it: no API-key authentication (anonymous, the workspace is an argument), no masking or
 * decryption of phone/e-mail (it returns the stored ciphertext; the comparison decrypts and masks
 * on the client side), no following of merged-away ids (the sampled ids are live profiles).
 */
export const POSTGRAPHILE_QUERY = `query($ws:UUID!,$id:UUID!){profileByWorkspaceIdAndId(workspaceId:$ws,id:$id){id traits
identifiersByWorkspaceIdAndProfileId(orderBy:[TYPE_ASC,NAMESPACE_ASC,FIRST_SEEN_AT_ASC,VALUE_KEY_ASC]){nodes{type namespace valueKey valueEnc}}
profileTagsByWorkspaceIdAndProfileId(orderBy:TAG_KEY_ASC){nodes{tagKey}}
segmentMembersByWorkspaceIdAndProfileId{nodes{segmentByWorkspaceIdAndSegmentId{key}}}
profileStageByWorkspaceIdAndProfileId{stage enteredAt}
profileHealthByWorkspaceIdAndProfileId{score tier}
eventsByWorkspaceIdAndProfileId(first:20,orderBy:[TS_DESC,MESSAGE_ID_DESC]){nodes{name ts}}}}`.replace(/\n/g, ' ');

/** The relations PostGraphile cannot see (no FKs in the schema), as smart tags. */
const SMART_TAGS = {
  version: 1,
  config: {
    class: {
      identifiers: { tags: { foreignKey: '(workspace_id, profile_id) references profiles (workspace_id, id)' } },
      profile_tags: { tags: { foreignKey: '(workspace_id, profile_id) references profiles (workspace_id, id)' } },
      segment_members: {
        tags: { foreignKey: ['(workspace_id, profile_id) references profiles (workspace_id, id)', '(workspace_id, segment_id) references segments (workspace_id, id)'] },
      },
      profile_stages: { tags: { foreignKey: '(workspace_id, profile_id) references profiles (workspace_id, id)' } },
      profile_health: { tags: { foreignKey: '(workspace_id, profile_id) references profiles (workspace_id, id)' } },
      events: { tags: { foreignKey: '(workspace_id, profile_id) references profiles (workspace_id, id)' } },
    },
  },
};

interface PgProfile {
  id: string;
  traits: Record<string, { value: unknown }>;
  identifiersByWorkspaceIdAndProfileId: { nodes: { type: string; namespace: string; valueKey: string; valueEnc: string | null }[] };
  profileTagsByWorkspaceIdAndProfileId: { nodes: { tagKey: string }[] };
  segmentMembersByWorkspaceIdAndProfileId: { nodes: { segmentByWorkspaceIdAndSegmentId: { key: string } | null }[] };
  profileStageByWorkspaceIdAndProfileId: { stage: string; enteredAt: string } | null;
  profileHealthByWorkspaceIdAndProfileId: { score: string; tier: string } | null;
  eventsByWorkspaceIdAndProfileId: { nodes: { name: string | null; ts: string }[] };
}

/** PostGraphile's answer in the shape of Siyu's (client-side decryption and masking: a READ key has no `pii`). */
function toSiyuShape(p: PgProfile | null, cipher: PiiCipher): unknown {
  if (!p) return { data: { profile: null } };
  const iso = (s: string) => new Date(s).toISOString();
  return {
    data: {
      profile: {
        id: p.id,
        identifiers: p.identifiersByWorkspaceIdAndProfileId.nodes.map(({ type, namespace, valueKey, valueEnc }) => {
          let value = valueKey;
          if (valueEnc && PII_TYPES.has(type as never)) {
            const plain = cipher.decrypt(valueEnc);
            value = type === 'phone' ? maskPhone(plain) : maskEmail(plain);
          }
          return { type, namespace: namespace || null, value };
        }),
        traits: Object.entries(p.traits).map(([name, t]) => ({ name, value: t.value })),
        tags: p.profileTagsByWorkspaceIdAndProfileId.nodes.map((t) => ({ key: t.tagKey })),
        segments: p.segmentMembersByWorkspaceIdAndProfileId.nodes.map((m) => ({ key: m.segmentByWorkspaceIdAndSegmentId?.key })).sort((a, b) => String(a.key).localeCompare(String(b.key))),
        stage: p.profileStageByWorkspaceIdAndProfileId ? { key: p.profileStageByWorkspaceIdAndProfileId.stage, enteredAt: iso(p.profileStageByWorkspaceIdAndProfileId.enteredAt) } : null,
        health: p.profileHealthByWorkspaceIdAndProfileId ? { score: Number(p.profileHealthByWorkspaceIdAndProfileId.score), tier: p.profileHealthByWorkspaceIdAndProfileId.tier.toUpperCase() } : null,
        events: { edges: p.eventsByWorkspaceIdAndProfileId.nodes.map((e) => ({ node: { name: e.name, timestamp: iso(e.ts) } })) },
      },
    },
  };
}

function normaliseSiyu(body: unknown): unknown {
  const p = (body as { data?: { profile?: { segments?: { key: string }[] } } }).data?.profile;
  if (p?.segments) p.segments = [...p.segments].sort((a, b) => a.key.localeCompare(b.key));
  return body;
}

export interface PostgraphileCaseResult {
  comparisons: Comparison[];
  section: { title: string; lines: string[] };
  details: Record<string, unknown>;
}

/**
 * Runs PostGraphile closed-loop once per Siyu repetition of case 2, then PostGraphile open
 * loop at `openRate` (half of Siyu's closed-loop rate from case 2). `siyuOpen` is Siyu's open-loop
 * result of case 2 at that rate (the p99 target), `bareReps` case 2's bare-handler rates.
 */
export async function runProfilePostgraphile(opts: {
  load: LoadGenerator;
  read: ProfileReadSetup;
  databaseUrl: string;
  piiKey: Buffer;
  workspaceId: string;
  poolSize: number;
  connections: number;
  readSec: number;
  warmupSec: number;
  /** Siyu's closed-loop repetitions of case 2. */
  siyuReps: ClosedResult[];
  openRate: number;
  openSec: number;
  siyuOpen: OpenResult;
  bareReps: number[];
  log: (msg: string) => void;
}): Promise<PostgraphileCaseResult> {
  const { load, read, workspaceId } = opts;
  const tagsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'siyu-bench-pgl-')), 'postgraphile.tags.json5');
  fs.writeFileSync(tagsFile, JSON.stringify(SMART_TAGS));
  const pool = new Pool({ connectionString: opts.databaseUrl, max: opts.poolSize });
  // Statements PostGraphile sends (counted only while `counting`, see below).
  let counting = false;
  let pglStatements = 0;
  pool.on('connect', (client) => {
    const q = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      if (counting) pglStatements++;
      return q(...a);
    };
  });
  const startedBuild = performance.now();
  const handler = postgraphile(pool, 'public', {
    graphqlRoute: '/graphql',
    graphiql: false,
    disableQueryLog: true,
    dynamicJson: true,
    setofFunctionsContainNulls: false,
    ignoreRBAC: false,
    watchPg: false,
    retryOnInitFail: false,
    appendPlugins: [makePgSmartTagsFromFilePlugin(tagsFile)],
  });
  await handler.getGraphQLSchema();
  const buildMs = performance.now() - startedBuild;
  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cipher = new PiiCipher(opts.piiKey);
  try {
    const headers = { 'content-type': 'application/json' };
    const bodies = read.ids.map((id) => JSON.stringify({ query: POSTGRAPHILE_QUERY, variables: { ws: workspaceId, id } }));
    const pgl: LoadTarget = { url, path: '/graphql', headers, bodies, expect: '"profileByWorkspaceIdAndId":{' };

    // Same data: a sample of answers, PostGraphile's mapped to Siyu's shape (not timed).
    let identical = 0;
    let mismatchExample: { id: string; siyu: unknown; postgraphile: unknown } | undefined;
    const sampleIds = read.ids.slice(0, 50);
    for (const id of sampleIds) {
      const siyuBody = JSON.parse(read.siyu.bodies[read.ids.indexOf(id)]) as unknown;
      const [a, b] = await Promise.all([
        fetch(`${read.siyu.url}/graphql`, { method: 'POST', headers: read.siyu.headers, body: JSON.stringify(siyuBody) }).then(async (r) => normaliseSiyu(await r.json())),
        fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query: POSTGRAPHILE_QUERY, variables: { ws: workspaceId, id } }) }).then(async (r) => {
          const j = (await r.json()) as { data?: { profileByWorkspaceIdAndId: PgProfile | null }; errors?: unknown };
          return j.errors ? j : toSiyuShape(j.data?.profileByWorkspaceIdAndId ?? null, cipher);
        }),
      ]);
      if (isDeepStrictEqual(a, b)) identical++;
      else mismatchExample ??= { id, siyu: a, postgraphile: b };
    }
    if (identical !== sampleIds.length) opts.log(`  WARNING: PostGraphile: ${sampleIds.length - identical}/${sampleIds.length} answers differ, e.g. ${JSON.stringify(mismatchExample).slice(0, 2000)}`);

    // Statements per request, 20 sequential requests each (diagnostic, not timed): Siyu's through TypeORM.
    const probe = sampleIds.slice(0, 20);
    const post = (t: LoadTarget, body: string) => fetch(`${t.url}/graphql`, { method: 'POST', headers: t.headers, body }).then((r) => r.arrayBuffer());
    const siyuTrace = await traceStatements(async () => {
      for (const id of probe) await post(read.siyu, read.siyu.bodies[read.ids.indexOf(id)]);
    });
    const siyuStatements = siyuTrace.statements.reduce((n, x) => n + x.calls, 0) / probe.length;
    counting = true;
    for (const id of probe) await post(pgl, bodies[read.ids.indexOf(id)]);
    counting = false;
    const pglPerRequest = pglStatements / probe.length;

    const run = (t: LoadTarget) => load.run<ClosedResult>({ kind: 'closed', ...t, connections: opts.connections, durationSec: opts.readSec });
    await load.run({ kind: 'closed', ...pgl, connections: opts.connections, durationSec: opts.warmupSec });
    // Siyu's closed-loop runs are case 2's (same process, load generator, connections and duration,
    // measured just before); PostGraphile's repetition i is paired with Siyu's repetition i.
    const reps: { siyu: ClosedResult; postgraphile: ClosedResult }[] = [];
    for (let rep = 0; rep < opts.siyuReps.length; rep++) {
      const r = { siyu: opts.siyuReps[rep], postgraphile: await run(pgl) };
      opts.log(`    repetition ${rep + 1}/${opts.siyuReps.length}: PostGraphile ${fmt(r.postgraphile.rps, 0)} req/s (Siyu ${fmt(r.siyu.rps, 0)} req/s in case 2)`);
      reps.push(r);
    }
    const pglOpen = await load.run<OpenResult>({ kind: 'open', ...pgl, rate: opts.openRate, durationSec: opts.openSec });
    const failures = reps.reduce((n, r) => n + r.postgraphile.errors + r.postgraphile.timeouts + r.postgraphile.non2xx + r.postgraphile.mismatches, 0) + pglOpen.failed;

    const siyuName = 'GraphQL profile(id), READ key';
    const pglName = 'PostGraphile 4.14.1 profileByWorkspaceIdAndId';
    const siyuRps = reps.map((r) => r.siyu.rps);
    const comparisons: Comparison[] = [
      compare({ case: '2 profile 360', metric: 'requests/s (closed loop)', higherIsBetter: true, siyuName, siyu: siyuRps, referenceName: pglName, reference: reps.map((r) => r.postgraphile.rps), target: 1.5 }),
      compare({ case: '2 profile 360', metric: 'p99 latency ms (closed loop)', higherIsBetter: false, siyuName, siyu: reps.map((r) => r.siyu.latencyMs.p99), referenceName: pglName, reference: reps.map((r) => r.postgraphile.latencyMs.p99), target: null }),
      compare({
        case: '2 profile 360',
        metric: `p99 latency ms (open loop, ${fmt(opts.openRate, 0)} req/s)`,
        higherIsBetter: false,
        siyuName,
        siyu: [opts.siyuOpen.latencyMs.p99],
        referenceName: pglName,
        reference: [pglOpen.latencyMs.p99],
        target: null,
        targetNote: `Siyu p99 ≤ 15 ms: ${opts.siyuOpen.latencyMs.p99 <= 15 ? 'met' : 'not met'}`,
      }),
    ];
    const ratioBare = siyuRps.map((s, i) => s / opts.bareReps[i % opts.bareReps.length]);
    const lines = [
      `- PostGraphile 4.14.1 in this process (\`postgraphile(pool, 'public', …)\` on its own node:http server, pool ${opts.poolSize}, query log off, no GraphiQL), relations declared by smart tags (\`@foreignKey\`: Siyu's tables have no FKs to \`profiles\`); schema built in ${fmt(buildMs, 0)} ms before measuring.`,
      `- Its query: \`${POSTGRAPHILE_QUERY}\`. Siyu's: \`${PROFILE_QUERY}\`.`,
      `- PostGraphile does less per request: no API key (anonymous), no decryption/masking of phone and e-mail (it returns the ciphertext; the check decrypts and masks client-side), no merged-id following; its traits come back as the raw jsonb object.`,
      `- Statements per request (20 sequential requests): Siyu ${fmt(siyuStatements, 1)} through TypeORM (${siyuTrace.statements.map((x) => `\`${x.statement.slice(0, 50)}…\` ×${fmt(x.calls / probe.length, 1)}`).join('; ')}); PostGraphile ${fmt(pglPerRequest, 1)} (one SQL statement with json aggregation per request, plus its transaction statements if any).`,
      `- Same data: ${identical}/${sampleIds.length} sampled answers identical after mapping PostGraphile's shape to Siyu's. Failed PostGraphile requests over all runs: ${failures}.`,
      `- Closed loop, ${opts.connections} connections, ${opts.readSec} s per run, ${reps.length} repetitions after a ${opts.warmupSec} s warm-up; Siyu's runs are case 2's (measured just before in the same process, paired by repetition). Target Siyu/PostGraphile ≥ 1.5: ${comparisons[0].ratio >= 1.5 ? 'met' : 'not met'} (${fmt(comparisons[0].ratio, 2)}).`,
      `- Siyu/bare handler in these repetitions (bare from case 2): ${ratioBare.map((x) => fmt(x, 2)).join(', ')} (target ≥ 0.5).`,
      `- Open loop at ${fmt(opts.openRate, 0)} req/s (half of Siyu's closed-loop median): Siyu p99 ${fmt(opts.siyuOpen.latencyMs.p99, 2)} ms (case 2; target ≤ 15 ms: ${opts.siyuOpen.latencyMs.p99 <= 15 ? 'met' : 'not met'}), PostGraphile p50 ${fmt(pglOpen.latencyMs.p50, 2)} / p99 ${fmt(pglOpen.latencyMs.p99, 2)} / max ${fmt(pglOpen.latencyMs.max, 2)} ms, ${pglOpen.failed} failed of ${pglOpen.sent}.`,
    ];
    return {
      comparisons,
      section: { title: 'Case 2b: profile 360 vs PostGraphile', lines },
      details: { reps, open: pglOpen, identical, compared: sampleIds.length, mismatchExample, buildMs, statementsPerRequest: { siyu: siyuStatements, postgraphile: pglPerRequest, siyuStatements: siyuTrace.statements } },
    };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await handler.release?.().catch(() => undefined);
    await pool.end().catch(() => undefined);
    fs.rmSync(path.dirname(tagsFile), { recursive: true, force: true });
  }
}
