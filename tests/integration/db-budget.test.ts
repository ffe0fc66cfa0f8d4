import http from 'node:http';
import pg from 'pg';
import { bootApp, usingPostgres, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { skipReason } from '../support/services';
import { waitUntil } from '../support/wait';
import { wsClient } from '../support/ws';
import { CreateSegmentDocument, IngestDocument } from '../generated/graphql';

/**
 * Every request's statements run under a database time budget of its kind (SIYU_DB_TIMEOUT_*_MS),
 * and a request whose client leaves is cancelled in the database.
 *
 * A statement is made slow structurally, not with data volume: the test holds the `profiles`
 * table (PostgreSQL: ACCESS EXCLUSIVE lock from a connection of its own) or the embedded
 * database's only connection, so the request waits in the database until its budget runs out.
 */
const BUDGET_MS = 1000;
let tight: TestApp;
let roomy: TestApp;

beforeAll(async () => {
  tight = await bootApp({ SIYU_DB_TIMEOUT_READ_MS: String(BUDGET_MS), SIYU_DB_TIMEOUT_WRITE_MS: String(BUDGET_MS), SIYU_DB_TIMEOUT_EXPORT_MS: String(BUDGET_MS) });
  roomy = await bootApp();
});
afterAll(async () => {
  await tight?.stop();
  await roomy?.stop();
});

/** Holds what every read and write of `table` (default profiles) needs until the returned function is called. */
async function holdProfiles(t: TestApp, table = 'profiles'): Promise<() => Promise<void>> {
  if (usingPostgres()) {
    const c = new pg.Client({ connectionString: process.env.SIYU_TEST_DATABASE_URL });
    await c.connect();
    await c.query('BEGIN');
    await c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    return async () => {
      await c.query('ROLLBACK');
      await c.end();
    };
  }
  // The embedded database is one session behind a pool of one: an open transaction holds it.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const done = t.app.db.dataSource.transaction(async () => {
    entered();
    await held;
  });
  await inside;
  return async () => {
    release();
    await done;
  };
}

/** Requests whose budget ended early (the app's `siyu_db_budget_stops_total`), of `kind` (or any). */
async function budgetStops(t: TestApp, kind: string | null, reason: string): Promise<number> {
  const values = (await t.app.metrics.dbBudgetStops.get()).values;
  return values.filter((v) => (kind === null || v.labels.kind === kind) && v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
}

/** Backends of the app (application_name siyu) running a statement now, other than this probe. */
async function busyBackends(): Promise<{ pid: number; query: string; wait: string | null }[]> {
  const c = new pg.Client({ connectionString: process.env.SIYU_TEST_DATABASE_URL });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT pid, query, wait_event_type AS wait FROM pg_stat_activity
        WHERE application_name = 'siyu' AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()`,
    );
    return rows;
  } finally {
    await c.end();
  }
}

/**
 * Runs `send` while profiles are held; waits until the budget of `kind` ran out; returns the answer.
 * PostgreSQL answers while the lock is still held (the statement was cancelled in the database, and
 * nothing of the request is left running); the embedded database once it is released (the next
 * statement is refused).
 */
async function pastBudget<T>(t: TestApp, kind: string | null, send: () => Promise<T>): Promise<T> {
  const before = await budgetStops(t, kind, 'deadline');
  const release = await holdProfiles(t);
  try {
    const answer = send();
    await waitUntil(`the ${kind ?? 'request'} budget to run out`, async () => (await budgetStops(t, kind, 'deadline')) > before);
    if (usingPostgres()) {
      const result = await answer;
      await waitUntil('no backend of the app left running', async () => (await busyBackends()).length === 0, { state: busyBackends });
      return result;
    }
    await release();
    return await answer;
  } finally {
    await release().catch(() => undefined);
  }
}

const TIMEOUT = { code: 'TIMEOUT', reason: 'DATABASE_TIME_BUDGET_EXCEEDED' };

describe('database time budget', () => {
  it('ends a GraphQL query over HTTP that outruns the read budget with TIMEOUT (504)', async () => {
    const { adminKey } = await tight.newWorkspace();
    expect((await tight.gql(IngestDocument, { events: [makeEvent()] }, adminKey)).data!.ingestEvents.accepted).toBe(1);
    const res = await pastBudget(tight, 'read', () =>
      tight.http().post('/graphql').set('authorization', `Bearer ${adminKey}`).send({ query: '{ profiles(first: 5) { edges { node { id } } } }' }).then((r) => r),
    );
    expect(res.status).toBe(504);
    expect(res.body.errors[0].extensions).toMatchObject({ ...TIMEOUT, kind: 'read', budgetMs: BUDGET_MS });
    // Nothing is left behind: the next query works.
    expect((await tight.gql('{ profiles(first: 5) { edges { node { id } } } }', {}, adminKey)).data).toBeTruthy();
  });

  it('ends a mutation with the write budget, and /v1 ingest with 504 TIMEOUT', async () => {
    const { adminKey } = await tight.newWorkspace();
    // Embedded: the held connection stops the request at its API key lookup, before its operation
    // is known to be a mutation, so the read budget ends it.
    const mutation = await pastBudget(tight, usingPostgres() ? 'write' : null, () =>
      tight.http().post('/graphql').set('authorization', `Bearer ${adminKey}`)
        .send({ query: 'mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', variables: { e: [makeEvent()] } }).then((r) => r),
    );
    expect(mutation.status).toBe(504);
    expect(mutation.body.errors[0].extensions).toMatchObject({ ...TIMEOUT, kind: usingPostgres() ? 'write' : 'read' });

    const v1 = await pastBudget(tight, 'write', () =>
      tight.http().post('/v1/track').auth(adminKey, '').send({ event: 'Slow', userId: 'slow-1', messageId: 'slow-1' }).then((r) => r),
    );
    expect(v1.status).toBe(504);
    expect(v1.body.errors[0].extensions).toMatchObject({ ...TIMEOUT, kind: 'write' });
    // The event was not stored: sent again, it is accepted (not a duplicate).
    const again = await tight.http().post('/v1/track').auth(adminKey, '').send({ event: 'Slow', userId: 'slow-1', messageId: 'slow-1' });
    expect(again.body).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('ends a segment export with the export budget (504 TIMEOUT)', async () => {
    const { adminKey } = await tight.newWorkspace();
    const seg = await tight.gql(CreateSegmentDocument, { input: { key: 'all', name: 'All', expression: 'order_count >= 0' } }, adminKey);
    expect(seg.errors).toBeUndefined();
    const res = await pastBudget(tight, 'export', () =>
      tight.http().get(`/export/segments/${seg.data!.createSegment.id}`).set('authorization', `Bearer ${adminKey}`).then((r) => r),
    );
    expect(res.status).toBe(504);
    expect(res.body.errors[0].extensions).toMatchObject({ ...TIMEOUT, kind: 'export' });
  });

  it('ends an operation over WebSocket with TIMEOUT', async () => {
    const { adminKey } = await tight.newWorkspace();
    const ws = wsClient(tight.url, adminKey);
    await ws.connected;
    try {
      const result = await pastBudget(tight, 'read', () =>
        new Promise<{ errors?: readonly { extensions?: Record<string, unknown> }[] }>((resolve, reject) => {
          let last: { errors?: readonly { extensions?: Record<string, unknown> }[] } = {};
          ws.client.subscribe({ query: '{ profiles(first: 5) { edges { node { id } } } }' }, {
            next: (r) => (last = r),
            error: reject,
            complete: () => resolve(last),
          });
        }),
      );
      expect(result.errors?.[0].extensions).toMatchObject({ ...TIMEOUT, kind: 'read' });
    } finally {
      await ws.dispose();
    }
  });
});

describe('a client that leaves', () => {
  /** A request sent on a raw socket that the test can drop mid-request. */
  function sendAndDrop(t: TestApp, key: string, query: string): { drop(): void } {
    const req = http.request(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ query }));
    return { drop: () => req.destroy() };
  }

  it('over HTTP: its statement is cancelled in PostgreSQL, no backend keeps running for it', async () => {
    if (!usingPostgres()) return void skipReason('cancelling a running statement needs PostgreSQL; the embedded database runs statements in-process (see the next test)');
    const { adminKey } = await roomy.newWorkspace();
    const release = await holdProfiles(roomy);
    try {
      const req = sendAndDrop(roomy, adminKey, '{ profiles(first: 5) { edges { node { id } } } }');
      await waitUntil('the query to wait for the lock', async () => (await busyBackends()).some((b) => b.wait === 'Lock'));
      req.drop();
      // The lock is still held: only a cancellation ends the statement.
      await waitUntil('the abandoned query to be cancelled', async () => (await busyBackends()).length === 0, { state: busyBackends });
      expect(await budgetStops(roomy, 'read', 'client_gone')).toBeGreaterThan(0);
    } finally {
      await release();
    }
  });

  it('over WebSocket: `complete` and closing the socket cancel the running statement', async () => {
    if (!usingPostgres()) return void skipReason('cancelling a running statement needs PostgreSQL; the embedded database runs statements in-process');
    const { adminKey } = await roomy.newWorkspace();
    const release = await holdProfiles(roomy);
    try {
      for (const how of ['complete', 'close'] as const) {
        const ws = wsClient(roomy.url, adminKey);
        await ws.connected;
        const stop = ws.client.subscribe({ query: '{ profiles(first: 5) { edges { node { id } } } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
        await waitUntil(`the query to wait for the lock (${how})`, async () => (await busyBackends()).some((b) => b.wait === 'Lock'));
        if (how === 'complete') stop();
        else await ws.dispose();
        await waitUntil(`the query to be cancelled after ${how}`, async () => (await busyBackends()).length === 0, { state: busyBackends });
        await ws.dispose();
      }
    } finally {
      await release();
    }
  });

  it('a live KPI computation: past its read budget it is cancelled; its last subscriber leaving cancels it', async () => {
    if (!usingPostgres()) return void skipReason('cancelling a running statement needs PostgreSQL; the embedded database runs statements in-process');
    const query = 'subscription { kpiUpdated(metrics: [DAU], grain: DAY, periods: 2) { version } }';
    for (const [t, how] of [
      [tight, 'deadline'],
      [roomy, 'complete'],
    ] as const) {
      const { adminKey } = await t.newWorkspace();
      const before = await budgetStops(t, 'read', how === 'deadline' ? 'deadline' : 'client_gone');
      // The table DAU is read from (one count per day: kpi.sets.ts).
      const release = await holdProfiles(t, 'kpi_day_counts');
      const ws = wsClient(t.url, adminKey);
      try {
        await ws.connected;
        const stop = ws.client.subscribe({ query }, { next: () => undefined, error: () => undefined, complete: () => undefined });
        await waitUntil(`the live computation to wait for the lock (${how})`, async () => (await busyBackends()).some((b) => b.wait === 'Lock'));
        if (how === 'complete') stop();
        // Cancelled in the database while the lock is still held: no backend keeps running for it.
        await waitUntil(`the live computation to be cancelled (${how})`, async () => (await busyBackends()).length === 0, { state: busyBackends });
        expect(await budgetStops(t, 'read', how === 'deadline' ? 'deadline' : 'client_gone')).toBeGreaterThan(before);
      } finally {
        await ws.dispose();
        await release();
      }
    }
  });

  // The embedded variant (checks between statements); on PostgreSQL the cancellation tests above cover it.
  (usingPostgres() ? it.skip : it)('embedded: an abandoned mutation runs no further statement and changes nothing', async () => {
    const { adminKey } = await roomy.newWorkspace();
    const gone = await budgetStops(roomy, 'read', 'client_gone');
    const release = await holdProfiles(roomy);
    let released = false;
    try {
      const req = sendAndDrop(roomy, adminKey, 'mutation { createTag(input: { key: "abandoned", name: "Abandoned" }) { key } }');
      await waitUntil('the request to wait for the database', () => roomy.app.db.poolStats().waiting > 0);
      req.drop();
      await waitUntil('the server to notice the client left', async () => (await budgetStops(roomy, 'read', 'client_gone')) > gone);
      const refused = async () => (await roomy.app.metrics.dbBudgetRefused.get()).values.reduce((n, v) => n + v.value, 0);
      const refusedBefore = await refused();
      await release();
      released = true;
      // Its next statement (the key lookup it was waiting to run) is refused, and with it the request.
      await waitUntil('the abandoned request to be refused its next statement', async () => (await refused()) > refusedBefore);
      const tags = await roomy.gql('{ tags { key } }', {}, adminKey);
      expect(tags.errors).toBeUndefined();
      expect((tags.data as { tags: { key: string }[] }).tags.map((t) => t.key)).not.toContain('abandoned');
    } finally {
      if (!released) await release();
    }
  });
});
