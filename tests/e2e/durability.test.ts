import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import { print } from 'graphql';
import { bootApp, TEST_PII_KEY, usingPostgres } from '../support/app';
import { makeEvent } from '../support/events';
import { ROOT, startServer, type ServerProcess } from '../support/process';
import { IngestDocument, type EventInput } from '../generated/graphql';

/**
 * Durability: the real server process on PostgreSQL takes 40 batches × 100 events with fixed
 * messageIds and is SIGKILLed mid-stream. Then: every acknowledged event is stored exactly once, no
 * batch is half-applied, and after restarting and retrying the unacknowledged batches (and some
 * acknowledged ones) every event is stored exactly once, retries reporting DUPLICATE.
 */
const BATCHES = 40;
const PER_BATCH = 100;
const KILL_AFTER_ACKS = 12;
const CONCURRENCY = 4;

const batches: EventInput[][] = Array.from({ length: BATCHES }, (_, b) =>
  Array.from({ length: PER_BATCH }, (_, i) =>
    makeEvent({ messageId: `dur-${b}-${i}`, identifiers: [`anonymous_id::dur-anon-${b}-${i % 10}`, ...(i % 10 === 0 ? [`member_id::dur-member-${b}`] : [])] }),
  ),
);

function serverEnv(): Record<string, string> {
  return { DATABASE_URL: process.env.SIYU_TEST_DATABASE_URL!, SIYU_PII_KEY: TEST_PII_KEY, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', SIYU_SWEEP_INTERVAL_MS: '0' };
}

async function urlOf(server: ServerProcess): Promise<string> {
  const [, url] = await server.waitFor(/GraphQL:\s+(http:\/\/\S+)\/graphql/, 60_000);
  return url;
}

interface IngestAnswer { accepted: number; duplicates: number; rejected: number }

async function send(url: string, key: string, events: EventInput[]): Promise<IngestAnswer> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: print(IngestDocument), variables: { events } }),
  });
  const body = (await res.json()) as { data?: { ingestEvents: IngestAnswer }; errors?: unknown[] };
  if (res.status !== 200 || !body.data) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(body.errors)}`);
  const { accepted, duplicates, rejected } = body.data.ingestEvents;
  return { accepted, duplicates, rejected };
}

async function storedPerBatch(db: Client, workspaceId: string): Promise<number[]> {
  const rows: { b: string; n: number }[] = await db
    .query(`SELECT split_part(message_id, '-', 2) AS b, count(*)::int AS n FROM events WHERE workspace_id = $1 AND message_id LIKE 'dur-%' GROUP BY 1`, [workspaceId])
    .then((r) => r.rows);
  const out = new Array<number>(BATCHES).fill(0);
  for (const r of rows) out[Number(r.b)] = r.n;
  return out;
}

describe('durability across SIGKILL (PostgreSQL)', () => {
  it('keeps acknowledged batches exactly once, never half-applies one, and retries fill the rest exactly once', async () => {
    if (!usingPostgres()) {
      process.stdout.write('\n  SKIPPED: the durability test needs PostgreSQL (the embedded database lives inside the killed process)\n');
      return;
    }
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    const t = await bootApp();
    const { workspaceId, adminKey } = await t.newWorkspace('durability');
    await t.stop();
    const db = new Client({ connectionString: process.env.SIYU_TEST_DATABASE_URL });
    await db.connect();
    let server = startServer(serverEnv());
    try {
      let url = await urlOf(server);
      const acked = new Set<number>();
      let killed = false;
      let next = 0;
      const worker = async () => {
        while (next < BATCHES) {
          const b = next++;
          let r: IngestAnswer | null = null;
          try {
            r = await send(url, adminKey, batches[b]);
          } catch {
            // Not acknowledged (the connection died or was refused): retried below.
          }
          if (r) {
            expect({ batch: b, ...r }).toEqual({ batch: b, accepted: PER_BATCH, duplicates: 0, rejected: 0 });
            acked.add(b);
          }
          if (!killed && acked.size >= KILL_AFTER_ACKS) {
            killed = true;
            server.child.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      expect(killed).toBe(true);
      expect((await server.exited).signal).toBe('SIGKILL');
      expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
      expect(acked.size).toBeLessThan(BATCHES);

      // Before any retry: acknowledged batches complete, every batch all or nothing.
      const before = await storedPerBatch(db, workspaceId);
      for (let b = 0; b < BATCHES; b++) {
        expect({ batch: b, stored: before[b], ok: before[b] === 0 || before[b] === PER_BATCH }).toEqual({ batch: b, stored: before[b], ok: true });
        if (acked.has(b)) expect({ batch: b, stored: before[b] }).toEqual({ batch: b, stored: PER_BATCH });
      }

      server = startServer(serverEnv());
      url = await urlOf(server);
      const retry = [...Array(BATCHES).keys()].filter((b) => !acked.has(b)).concat([...acked].slice(0, 5));
      for (const b of retry) {
        const r = await send(url, adminKey, batches[b]);
        const expected = before[b] === PER_BATCH ? { accepted: 0, duplicates: PER_BATCH, rejected: 0 } : { accepted: PER_BATCH, duplicates: 0, rejected: 0 };
        expect({ batch: b, ...r }).toEqual({ batch: b, ...expected });
      }
      expect(await storedPerBatch(db, workspaceId)).toEqual(new Array(BATCHES).fill(PER_BATCH));
      const [{ n, distinct }] = (await db.query(`SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS distinct FROM events WHERE workspace_id = $1`, [workspaceId])).rows;
      expect({ n, distinct }).toEqual({ n: BATCHES * PER_BATCH, distinct: BATCHES * PER_BATCH });
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await db.end();
    }
  }, 300_000);
});
