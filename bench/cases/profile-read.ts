import { isDeepStrictEqual } from 'node:util';
import type { SiyuApp } from '../../src/app';
import { Role } from '../../src/platform/auth';
import { systemActor } from '../../src/modules/compliance';
import { PiiCipher } from '../../src/modules/identities';
import { startBareServer, type BareServer } from '../lib/bare-server';
import type { LoadGenerator } from '../lib/load';
import type { ClosedResult, LoadTarget, OpenResult } from '../load-worker';
import { rng, sample } from '../../src/shared/random';

/**
 * Case 2: the profile-360 read over HTTP — Siyu's GraphQL `profile(id)` with a READ key against a
 * bare node:http + pg handler answering the same body with the same data from one SQL statement.
 * Both run in this process; the load generator runs in a child process.
 */
export const PROFILE_QUERY =
  'query($id:ID!){profile(id:$id){id identifiers{type namespace value} traits{name value} tags{key} segments{key} stage{key enteredAt} health{score tier} events(first:20){edges{node{name timestamp}}}}}';

export interface ProfileReadSetup {
  ids: string[];
  siyu: LoadTarget;
  bare: LoadTarget;
  bareServer: BareServer;
  /** How many sampled answers were compared, and how many were identical. */
  compared: number;
  identical: number;
  mismatchExample?: { id: string; siyu: unknown; bare: unknown };
}

/** Segments come without an order from Siyu; compare them as a set. */
function normalise(body: unknown): unknown {
  const p = (body as { data?: { profile?: { segments?: { key: string }[] } } }).data?.profile;
  if (p?.segments) p.segments = [...p.segments].sort((a, b) => a.key.localeCompare(b.key));
  return body;
}

export async function setupProfileRead(opts: {
  app: SiyuApp;
  url: string;
  databaseUrl: string;
  piiKey: Buffer;
  workspaceId: string;
  seed: number;
  count: number;
  poolSize: number;
}): Promise<ProfileReadSetup> {
  const { app, workspaceId } = opts;
  const live: { id: string }[] = await app.db.dataSource.query(
    'SELECT id FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL ORDER BY seq',
    [workspaceId],
  );
  const ids = sample(rng(opts.seed), live.map((r) => r.id), opts.count);
  const { key } = await app.services.workspaces.createApiKey(systemActor(workspaceId), { role: Role.READ, name: 'bench read' });
  const bareServer = await startBareServer({
    databaseUrl: opts.databaseUrl,
    poolSize: opts.poolSize,
    cipher: new PiiCipher(opts.piiKey),
    keys: new Map([[key, { workspaceId, pii: false }]]),
  });
  const bodies = ids.map((id) => JSON.stringify({ query: PROFILE_QUERY, variables: { id } }));
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const target = (url: string): LoadTarget => ({ url, path: '/graphql', headers, bodies, expect: '"profile":{' });

  // Same data: compare a sample of answers (not timed).
  let identical = 0;
  let mismatchExample: ProfileReadSetup['mismatchExample'];
  const compareIds = ids.slice(0, 50);
  for (const id of compareIds) {
    const body = JSON.stringify({ query: PROFILE_QUERY, variables: { id } });
    const [a, b] = await Promise.all(
      [opts.url, bareServer.url].map(async (u) => normalise(await (await fetch(`${u}/graphql`, { method: 'POST', headers, body })).json())),
    );
    if (isDeepStrictEqual(a, b)) identical++;
    else mismatchExample ??= { id, siyu: a, bare: b };
  }
  return { ids, siyu: target(opts.url), bare: target(bareServer.url), bareServer, compared: compareIds.length, identical, mismatchExample };
}

export interface ReadRep {
  siyu: ClosedResult;
  bare: ClosedResult;
}

export async function runReadRep(load: LoadGenerator, setup: ProfileReadSetup, rep: number, connections: number, durationSec: number): Promise<ReadRep> {
  const run = (t: LoadTarget) => load.run<ClosedResult>({ kind: 'closed', ...t, connections, durationSec });
  // Alternate which goes first, so drift (autovacuum, caches, thermal) does not favour one side.
  if (rep % 2 === 0) {
    const siyu = await run(setup.siyu);
    const bare = await run(setup.bare);
    return { siyu, bare };
  }
  const bare = await run(setup.bare);
  const siyu = await run(setup.siyu);
  return { siyu, bare };
}

export async function warmUp(load: LoadGenerator, setup: ProfileReadSetup, connections: number, durationSec: number): Promise<void> {
  await load.run({ kind: 'closed', ...setup.siyu, connections, durationSec });
  await load.run({ kind: 'closed', ...setup.bare, connections, durationSec });
}

export async function runOpenLoop(load: LoadGenerator, setup: ProfileReadSetup, rate: number, durationSec: number): Promise<{ siyu: OpenResult; bare: OpenResult }> {
  const siyu = await load.run<OpenResult>({ kind: 'open', ...setup.siyu, rate, durationSec });
  const bare = await load.run<OpenResult>({ kind: 'open', ...setup.bare, rate, durationSec });
  return { siyu, bare };
}
