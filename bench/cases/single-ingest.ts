import { Arg, Authorized, Ctx, Int, Mutation, Resolver } from 'type-graphql';
import type { SiyuApp } from '../../src/app';
import { Role, requireAuth } from '../../src/platform/auth';
import { systemActor } from '../../src/modules/compliance';
import type { RequestContext } from '../../src/platform/graphql/context';
import { EventInput } from '../../src/modules/events/event.inputs';
import type { LoadGenerator } from '../lib/load';
import { compare, type Comparison } from '../lib/report';
import { fmt, summarize } from '../lib/stats';
import type { ClosedResult, LoadTarget, OpenResult } from '../load-worker';

/**
 * The reference of the single-event ingest case: a mutation that takes the same `[EventInput!]!`
 * argument, checks the same INGEST role and does nothing else. Registered only in the bench build
 * (`createApp(config, { extraResolvers: BENCH_RESOLVERS })`); the public schema never has it.
 */
@Resolver()
export class BenchNoopResolver {
  @Authorized(Role.INGEST)
  @Mutation(() => Int, { description: 'Bench only: accepts events like ingestEvents and does nothing; returns how many it got.' })
  benchNoop(@Arg('events', () => [EventInput], { description: 'Ignored.' }) events: EventInput[], @Ctx() ctx: RequestContext): number {
    requireAuth(ctx);
    return events.length;
  }
}

export const BENCH_RESOLVERS: readonly Function[] = [BenchNoopResolver];

const UNIQUE = '__BENCH_UNIQUE__';
const INGEST_ONE = 'mutation($e:[EventInput!]!){ingestEvents(events:$e){accepted}}';
const NOOP_ONE = 'mutation($e:[EventInput!]!){benchNoop(events:$e)}';

export interface SingleIngestRep {
  siyu: ClosedResult;
  noop: ClosedResult;
}

/**
 * Single-event ingest from 64 concurrent connections: `ingestEvents` with one event per request
 * (a distinct messageId in every request: the load worker replaces a token per request) against the
 * same server's no-op mutation, closed loop (autocannon); then an open loop at 1,500 events/s, or at
 * half of Siyu's closed-loop rate when that is lower, for the ack latency.
 */
export async function runSingleIngest(opts: {
  app: SiyuApp;
  url: string;
  load: LoadGenerator;
  reps: number;
  connections: number;
  durationSec: number;
  openSec: number;
  people: number;
  log: (m: string) => void;
}): Promise<{ comparisons: Comparison[]; reps: SingleIngestRep[]; open: OpenResult; openRate: number; openRateNote: string; lines: string[] }> {
  const { workspace, key: adminKey } = await opts.app.services.workspaces.createWorkspace('bench single ingest', undefined);
  const { key } = await opts.app.services.workspaces.createApiKey(systemActor(workspace.id), { role: Role.INGEST, name: 'bench ingest' });
  void adminKey;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const channels = ['wechat_mp', 'wechat_oa', 'app', 'web'];
  const names = ['Product Viewed', 'Product Added', 'Content Viewed', 'Message Sent'];
  const event = (i: number) => ({
    messageId: `single-${UNIQUE}`,
    type: 'track',
    name: names[i % names.length],
    channel: channels[i % channels.length],
    identifiers: [{ type: 'member_id', value: `SM${i}` }, ...(i % 5 === 0 ? [{ type: 'device_id', value: `SD${i}` }] : [])],
    properties: { sku: `SKU-${i % 97}` },
  });
  const bodies = (query: string) => Array.from({ length: opts.people }, (_, i) => JSON.stringify({ query, variables: { e: [event(i)] } }));
  const siyuTarget: LoadTarget = { url: opts.url, path: '/graphql', headers, bodies: bodies(INGEST_ONE), expect: '"accepted":1', unique: UNIQUE };
  const noopTarget: LoadTarget = { url: opts.url, path: '/graphql', headers, bodies: bodies(NOOP_ONE), expect: '"benchNoop":1', unique: UNIQUE };
  const closed = (t: LoadTarget, durationSec = opts.durationSec) => opts.load.run<ClosedResult>({ kind: 'closed', ...t, connections: opts.connections, durationSec });

  await closed(siyuTarget, 1);
  await closed(noopTarget, 1);
  const reps: SingleIngestRep[] = [];
  for (let rep = 0; rep < opts.reps; rep++) {
    const r = rep % 2 === 0 ? { siyu: await closed(siyuTarget), noop: await closed(noopTarget) } : (({ noop, siyu }) => ({ siyu, noop }))({ noop: await closed(noopTarget), siyu: await closed(siyuTarget) });
    reps.push(r);
    opts.log(`    repetition ${rep + 1}/${opts.reps}: ingestEvents ${fmt(r.siyu.rps, 0)} req/s (p99 ${fmt(r.siyu.latencyMs.p99, 0)} ms), no-op ${fmt(r.noop.rps, 0)} req/s`);
  }
  const siyuMax = summarize(reps.map((r) => r.siyu.rps)).median;
  const openRate = Math.max(1, Math.round(Math.min(1500, siyuMax / 2)));
  const openRateNote = siyuMax / 2 < 1500 ? `half of Siyu's closed-loop median (${fmt(siyuMax, 0)} events/s), lower than 1,500` : '1,500 events/s';
  opts.log(`    open loop at ${openRate} events/s (${openRateNote}), ${opts.openSec} s`);
  const open = await opts.load.run<OpenResult>({ kind: 'open', ...siyuTarget, rate: openRate, durationSec: opts.openSec });

  const [{ n }] = await opts.app.db.dataSource.query('SELECT count(*)::int AS n FROM events WHERE workspace_id = $1', [workspace.id]);
  const acked = reps.reduce((s, r) => s + r.siyu.requests - r.siyu.errors - r.siyu.timeouts - r.siyu.non2xx - r.siyu.mismatches, 0) + open.completed;
  const failures = reps.flatMap((r) => [r.siyu, r.noop]).reduce((s, r) => s + r.errors + r.timeouts + r.non2xx + r.mismatches, 0);
  const comparisons = [
    compare({
      case: 'single-event ingest',
      metric: `requests/s (1 event each, ${opts.connections} connections)`,
      higherIsBetter: true,
      siyuName: 'GraphQL ingestEvents, 1 event/request',
      siyu: reps.map((r) => r.siyu.rps),
      referenceName: 'same server, no-op mutation with the same input',
      reference: reps.map((r) => r.noop.rps),
      target: 0.7,
    }),
  ];
  const lines = [
    `- One event per request, a distinct messageId in every request (the load worker replaces a token per request), ${fmt(opts.people, 0)} distinct people (member ids, every 5th with a device id) rotated; INGEST key; autocannon in a child process, ${opts.connections} connections, ${opts.durationSec} s per run after a 1 s warm-up of each, order alternating. The no-op mutation (\`BenchNoopResolver\`, bench build only via \`createApp(…, { extraResolvers })\`) takes the same \`[EventInput!]!\` and role check.`,
    `- Closed loop p99 (ms), ingestEvents / no-op: ${reps.map((r) => `${fmt(r.siyu.latencyMs.p99, 0)} / ${fmt(r.noop.latencyMs.p99, 0)}`).join('; ')}. Failed requests over all closed runs: ${failures}.`,
    `- Open loop at ${fmt(openRate, 0)} events/s (${openRateNote}), ${opts.openSec} s, latency from the intended send time (HDR): sent ${fmt(open.sent, 0)}, failed ${open.failed}, p50 ${fmt(open.latencyMs.p50, 2)} ms, p90 ${fmt(open.latencyMs.p90, 2)} ms, **p99 ${fmt(open.latencyMs.p99, 2)} ms** (target ≤ 30 ms at 1,500 events/s: ${open.latencyMs.p99 <= 30 && openRate >= 1500 ? 'met' : open.latencyMs.p99 <= 30 ? `met at ${fmt(openRate, 0)} events/s only — 1,500/s is above half of Siyu's max` : 'not met'}), p99.9 ${fmt(open.latencyMs.p999, 2)} ms, max ${fmt(open.latencyMs.max, 2)} ms.`,
    `- Verified: rows in \`events\` for the workspace (${fmt(n, 0)}) ≥ successful acks (${fmt(acked, 0)}); the difference is requests still in flight when a closed-loop run stopped (committed, answer not counted).`,
  ];
  return { comparisons, reps, open, openRate, openRateNote, lines };
}
