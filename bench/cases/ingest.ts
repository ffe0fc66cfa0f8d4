import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { SiyuApp } from '../../src/app';
import { Role } from '../../src/platform/auth';
import { systemActor } from '../../src/modules/compliance';
import type { RawEvent } from '../../src/modules/events/event-validation';
import { batches, type BenchEvent } from '../lib/stream';

/**
 * Case 1: batched ingest through Siyu (identity resolution, rollups, tag/segment evaluation, ack
 * after commit) against COPY of the same rows into the same table. Every repetition ingests the
 * whole stream into a fresh workspace (in-process, then over HTTP into another), and copies the rows
 * Siyu wrote back into `events` itself under a reference workspace of their own: 500-row COPY
 * statements for the in-process workspace's rows, one COPY for the HTTP workspace's rows. Siyu and
 * COPY thus write into the same table with the same indexes, of the same size (the base dataset's
 * rows included).
 */

export const INGEST_MUTATION =
  'mutation($e:[EventInput!]!){ingestEvents(events:$e){accepted duplicates rejected results{index status profileId error{reason field message}}}}';

export interface IngestRep {
  siyuInProcess: number;
  siyuHttp: number;
  copy500: number;
  copyBig: number;
  /** events/s of the first and last tenth of the in-process batches (does ingest slow down as the workspace grows?). */
  inProcessFirstTenth: number;
  inProcessLastTenth: number;
}

export interface IngestFacts {
  events: number;
  batchSize: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  verified: string[];
  /** Identity outcome of the in-process workspace of the first repetition. */
  profilesCreated: number;
  liveProfiles: number;
  merges: number;
  conflicts: number;
  relations: number;
  identifiers: number;
  segmentMemberships: number;
  tagAssignments: number;
  /** Size of Siyu's write per event vs COPY's (bytes, relation + indexes, of the first repetition's rows). */
  eventsTableBytesPerEvent: number;
  siyuAllTablesBytesPerEvent: number;
}

export interface IngestContext {
  app: SiyuApp;
  url: string;
  databaseUrl: string;
  events: BenchEvent[];
  batchSize: number;
  log: (msg: string) => void;
}

async function withClient<T>(databaseUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The columns of `events`, in order, quoted. */
async function eventColumns(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'events' ORDER BY ordinal_position`,
  );
  return rows.map((r) => `"${r.column_name}"`);
}

/** COPY of the rows Siyu wrote: into `events` itself, under the reference workspace. */
const copyIn = (columns: string[]) => `COPY events (${columns.join(', ')}) FROM STDIN`;

/**
 * The rows Siyu wrote for a workspace, as COPY text with the workspace id replaced by `target`'s,
 * `size` rows per chunk (built before timing).
 */
async function copyChunks(c: Client, columns: string[], workspaceId: string, target: string, size: number): Promise<Buffer[]> {
  const parts: Buffer[] = [];
  const select = columns.map((col) => (col === '"workspace_id"' ? `'${target}'::uuid` : col)).join(', ');
  await pipeline(
    c.query(copyTo(`COPY (SELECT ${select} FROM events WHERE workspace_id = '${workspaceId}') TO STDOUT`)),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        parts.push(chunk);
        cb();
      },
    }),
  );
  const all = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  let start = 0;
  let rows = 0;
  for (let i = 0; i < all.length; i++) {
    if (all[i] !== 0x0a) continue; // newlines inside values are escaped as \n in COPY text
    if (++rows === size) {
      chunks.push(all.subarray(start, i + 1));
      start = i + 1;
      rows = 0;
    }
  }
  if (start < all.length) chunks.push(all.subarray(start));
  return chunks;
}

async function count(c: Client, table: string, workspaceId: string): Promise<number> {
  const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE workspace_id = $1`, [workspaceId]);
  return Number(rows[0].n);
}

function check(cond: boolean, what: string, verified: string[]): void {
  if (!cond) throw new Error(`verification failed: ${what}`);
  if (!verified.includes(what)) verified.push(what);
}

export async function runIngestRep(ctx: IngestContext, rep: number, facts: IngestFacts | null): Promise<{ rep: IngestRep; facts: IngestFacts; inProcessWorkspace: string }> {
  const { app, events, batchSize } = ctx;
  const n = events.length;
  const groups = batches(events, batchSize) as RawEvent[][];
  return withClient(ctx.databaseUrl, async (c) => {
    const verified: string[] = facts?.verified ?? [];
    const totals = { accepted: 0, duplicates: 0, rejected: 0 };

    // Siyu, in-process: the real service, one call per batch.
    const wsA = (await app.services.workspaces.createWorkspace(`bench ${rep} in-process`, undefined)).workspace.id;
    await c.query('CHECKPOINT');
    const siyuBefore = await tablesBytes(c);
    const perBatch: number[] = [];
    let t0 = performance.now();
    for (const b of groups) {
      const tb = performance.now();
      const out = await app.services.ingest.ingest(wsA, b);
      perBatch.push(performance.now() - tb);
      totals.accepted += out.accepted;
      totals.duplicates += out.duplicates;
      totals.rejected += out.rejected;
    }
    const siyuInProcess = n / ((performance.now() - t0) / 1000);
    const siyuBytes = (await tablesBytes(c)) - siyuBefore;
    check(totals.accepted === n && totals.duplicates === 0 && totals.rejected === 0, 'in-process: accepted == N, no duplicates, no rejections', verified);
    check((await count(c, 'events', wsA)) === n, 'in-process: rows in events for the workspace == accepted == N', verified);
    const tenth = Math.max(1, Math.floor(perBatch.length / 10));
    const rate = (xs: number[]) => (xs.length * batchSize) / (xs.reduce((a, b) => a + b, 0) / 1000);
    ctx.log(`    in-process ${Math.round(siyuInProcess)} events/s`);

    // Reference: the same rows in 500-row COPY statements (each its own transaction, like a batch).
    const columns = await eventColumns(c);
    const refA = (await app.services.workspaces.createWorkspace(`bench ${rep} COPY x${batchSize}`, undefined)).workspace.id;
    const chunksA = await copyChunks(c, columns, wsA, refA, batchSize);
    await c.query('CHECKPOINT');
    const eventsBefore = await tableBytes(c, 'events');
    t0 = performance.now();
    for (const chunk of chunksA) await pipeline(Readable.from([chunk]), c.query(copyFrom(copyIn(columns))));
    const copy500 = n / ((performance.now() - t0) / 1000);
    const copyBytes = (await tableBytes(c, 'events')) - eventsBefore;
    check((await count(c, 'events', refA)) === n, 'COPY: rows in events for the reference workspace == N', verified);
    ctx.log(`    COPY x${batchSize} ${Math.round(copy500)} rows/s`);

    // Siyu over HTTP: GraphQL ingestEvents with an INGEST key, one request per batch, as a client sees it.
    const wsB = (await app.services.workspaces.createWorkspace(`bench ${rep} http`, undefined)).workspace.id;
    const { key } = await app.services.workspaces.createApiKey(systemActor(wsB), { role: Role.INGEST, name: 'bench ingest' });
    // Serialised before timing; kept as Buffers (off the JS heap: a full-size run holds ~0.5 GB of them).
    const bodies = groups.map((e) => Buffer.from(JSON.stringify({ query: INGEST_MUTATION, variables: { e } })));
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    let accepted = 0;
    await c.query('CHECKPOINT');
    t0 = performance.now();
    for (const body of bodies) {
      const res = await fetch(`${ctx.url}/graphql`, { method: 'POST', headers, body });
      const json = (await res.json()) as { data?: { ingestEvents?: { accepted: number; duplicates: number; rejected: number } }; errors?: unknown };
      if (res.status !== 200 || !json.data?.ingestEvents) throw new Error(`HTTP ingest failed: ${res.status} ${JSON.stringify(json.errors ?? json).slice(0, 500)}`);
      accepted += json.data.ingestEvents.accepted;
    }
    const siyuHttp = n / ((performance.now() - t0) / 1000);
    check(accepted === n, 'HTTP: accepted == N', verified);
    check((await count(c, 'events', wsB)) === n, 'HTTP: rows in events for the workspace == accepted == N', verified);
    ctx.log(`    HTTP ${Math.round(siyuHttp)} events/s`);

    // Second reference: the HTTP workspace's rows in one COPY statement.
    const refB = (await app.services.workspaces.createWorkspace(`bench ${rep} one COPY`, undefined)).workspace.id;
    const chunksB = await copyChunks(c, columns, wsB, refB, batchSize);
    await c.query('CHECKPOINT');
    t0 = performance.now();
    await pipeline(Readable.from(chunksB), c.query(copyFrom(copyIn(columns))));
    const copyBig = n / ((performance.now() - t0) / 1000);
    check((await count(c, 'events', refB)) === n, 'one COPY: rows in events for the reference workspace == N', verified);
    ctx.log(`    one COPY ${Math.round(copyBig)} rows/s`);

    const result: IngestRep = {
      siyuInProcess,
      siyuHttp,
      copy500,
      copyBig,
      inProcessFirstTenth: rate(perBatch.slice(0, tenth)),
      inProcessLastTenth: rate(perBatch.slice(-tenth)),
    };
    return { rep: result, facts: facts ?? (await describe(c, wsA, n, batchSize, totals, verified, { siyu: siyuBytes, copy: copyBytes })), inProcessWorkspace: wsA };
  });
}

/** Siyu's tables that grow with ingest (storage per event). */
const SIYU_TABLES = ['profiles', 'identifiers', 'events', 'relations', 'identity_merges', 'identity_conflicts', 'profile_tags', 'segment_members', 'membership_changes', 'profile_stages', 'stage_transitions', 'profile_health', 'kpi_activity', 'kpi_profiles'];

async function tableBytes(c: Client, table: string): Promise<number> {
  return Number((await c.query<{ n: string }>(`SELECT pg_total_relation_size('${table}') AS n`)).rows[0].n);
}

async function tablesBytes(c: Client): Promise<number> {
  let all = 0;
  for (const t of SIYU_TABLES) all += await tableBytes(c, t);
  return all;
}

async function describe(
  c: Client,
  ws: string,
  n: number,
  batchSize: number,
  totals: { accepted: number; duplicates: number; rejected: number },
  verified: string[],
  growth: { siyu: number; copy: number },
): Promise<IngestFacts> {
  const one = async (sql: string) => Number((await c.query<{ n: string }>(sql, [ws])).rows[0].n);
  return {
    events: n,
    batchSize,
    ...totals,
    verified,
    profilesCreated: await one('SELECT count(*) AS n FROM profiles WHERE workspace_id = $1'),
    liveProfiles: await one('SELECT count(*) AS n FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL'),
    merges: await one('SELECT count(*) AS n FROM identity_merges WHERE workspace_id = $1'),
    conflicts: await one('SELECT count(*) AS n FROM identity_conflicts WHERE workspace_id = $1'),
    relations: await one('SELECT count(*) AS n FROM relations WHERE workspace_id = $1'),
    identifiers: await one('SELECT count(*) AS n FROM identifiers WHERE workspace_id = $1'),
    segmentMemberships: await one('SELECT count(*) AS n FROM segment_members WHERE workspace_id = $1'),
    tagAssignments: await one('SELECT count(*) AS n FROM profile_tags WHERE workspace_id = $1'),
    // Growth of the tables (relation + indexes) while each side wrote the first repetition's rows.
    eventsTableBytesPerEvent: Math.round(growth.copy / n),
    siyuAllTablesBytesPerEvent: Math.round(growth.siyu / n),
  };
}
