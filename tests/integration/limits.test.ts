import { getIntrospectionQuery } from 'graphql';
import { bootApp, usingPostgres, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { countRows } from '../support/rows';
import { REDIS_URL, redisAvailable, skipReason } from '../support/services';
import { waitUntil } from '../support/wait';
import { wsClient } from '../support/ws';
import { CreateApiKeyDocument, IngestDocument } from '../generated/graphql';

/**
 * Protection limits, tried against a real app with low limits: depth and complexity (HTTP and
 * WebSocket), per-key rate budgets (GraphQL, /v1, WebSocket; shared through Redis), WebSocket
 * connections per key, and oversized GraphQL bodies. Refused requests must change nothing.
 */
const LOW = {
  SIYU_MAX_QUERY_DEPTH: '6',
  SIYU_MAX_QUERY_COMPLEXITY: '1000',
  SIYU_RATE_LIMIT_PER_SEC: '3',
  SIYU_RATE_LIMIT_BURST: '3',
  SIYU_INGEST_RATE_LIMIT_PER_SEC: '3',
  SIYU_INGEST_RATE_LIMIT_BURST: '3',
  SIYU_WS_MAX_CONNECTIONS_PER_KEY: '2',
  SIYU_BODY_LIMIT_BYTES: '65536',
};
/**
 * Budget bound for requests sent together that took `elapsedMs` from first send to last answer: they
 * touch at most floor(elapsed) + 2 one-second windows of 3, plus the burst of 3. (A loaded machine
 * spreads them over more windows; the bound follows the measured span instead of assuming one.)
 */
const maxAllowed = (elapsedMs: number) => 3 * (Math.floor(elapsedMs / 1000) + 2) + 3;
async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const start = Date.now();
  const r = await f();
  return [r, Date.now() - start];
}

let t: TestApp;
beforeAll(async () => {
  t = await bootApp(LOW);
});
afterAll(() => t.stop());

const DEEP = '{ profiles(first: 1) { edges { node { events(first: 1) { edges { node { messageId } } } } } } }'; // depth 7
const COMPLEX = '{ profiles(first: 100) { edges { node { id tags { key name } } } } }'; // 1 + 100 × (1 + 1 + 1 + 1 + 10 × 2) = 2401

describe('query depth and complexity', () => {
  it('refuses a query deeper than SIYU_MAX_QUERY_DEPTH with the measured depth and the limit', async () => {
    const { adminKey } = await t.newWorkspace();
    const r = await t.gql(DEEP, {}, adminKey);
    expect(r.status).toBe(200); // a request error, answered as application/json
    expect(r.data).toBeUndefined();
    expect(r.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_DEEP', depth: 7, maxDepth: 6 });
    // Fragments do not hide depth.
    const viaFragments = await t.gql(
      'query { profiles(first: 1) { ...P } } fragment P on ProfileConnection { edges { node { ...N } } } fragment N on Profile { events(first: 1) { edges { node { messageId } } } }',
      {},
      adminKey,
    );
    expect(viaFragments.errors![0].extensions).toMatchObject({ reason: 'QUERY_TOO_DEEP', depth: 7 });
    // One level less passes.
    const ok = await t.gql('{ profiles(first: 1) { edges { node { events(first: 1) { pageInfo { hasNextPage } } } } } }', {}, adminKey);
    expect(ok.errors).toBeUndefined();
  });

  it('refuses a query over SIYU_MAX_QUERY_COMPLEXITY; page sizes from variables count', async () => {
    const { adminKey } = await t.newWorkspace();
    const r = await t.gql(COMPLEX, {}, adminKey);
    expect(r.status).toBe(200); // a request error, answered as application/json
    expect(r.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_COMPLEX', complexity: 2401, maxComplexity: 1000 });
    const q = 'query P($n: Int!) { profiles(first: $n) { edges { node { id tags { key name } } } } }';
    expect((await t.gql(q, { n: 100 }, adminKey)).errors![0].extensions.reason).toBe('QUERY_TOO_COMPLEX');
    expect((await t.gql(q, { n: 10 }, adminKey)).errors).toBeUndefined();
    // Many aliases of a cheap field: each root field is served on its own, so their number is capped (before validation).
    const aliases = `{ ${Array.from({ length: 1001 }, (_, i) => `a${i}: me { role }`).join(' ')} }`;
    expect((await t.gql(aliases, {}, adminKey)).errors![0].extensions.reason).toBe('TOO_MANY_ROOT_FIELDS');
  });

  it('lets the standard introspection query through but not a cyclic one', async () => {
    const { adminKey } = await t.newWorkspace();
    const intro = await t.gql(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, specifiedByUrl: true }), {}, adminKey);
    expect(intro.errors).toBeUndefined();
    expect(intro.data).toHaveProperty('__schema');
    // graphql-js itself refuses cyclic introspection (fields { type { fields … } }).
    const cyclic = '{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }';
    expect((await t.gql(cyclic, {}, adminKey)).errors![0].extensions.code).toBe('BAD_USER_INPUT');
    // Introspection repeated under aliases exceeds the introspection complexity allowance (100,000).
    const repeated = `{ __schema { ${Array.from({ length: 100 }, (_, i) => `t${i}: types { fields { args { name } } }`).join(' ')} } }`;
    expect((await t.gql(repeated, {}, adminKey)).errors![0].extensions).toMatchObject({ reason: 'QUERY_TOO_COMPLEX', maxComplexity: 100000 });
    // And its depth allowance is 15.
    const deep = `{ __type(name: "Profile") { ${'ofType { '.repeat(15)}name${' }'.repeat(15)} } }`;
    expect((await t.gql(deep, {}, adminKey)).errors![0].extensions).toMatchObject({ reason: 'QUERY_TOO_DEEP', depth: 17, maxDepth: 15 });
  });

  it('applies the same limits to WebSocket operations', async () => {
    const { adminKey } = await t.newWorkspace();
    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    try {
      const run = (query: string) =>
        new Promise<{ errors?: { extensions?: Record<string, unknown> }[] }>((resolve) => {
          let result: { errors?: { extensions?: Record<string, unknown> }[] } = {};
          ws.client.subscribe({ query }, {
            next: (r) => { result = r as typeof result; },
            error: (e) => resolve({ errors: e as { extensions?: Record<string, unknown> }[] }),
            complete: () => resolve(result),
          });
        });
      expect((await run(DEEP)).errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_DEEP', depth: 7, maxDepth: 6 });
      expect((await run(COMPLEX)).errors![0].extensions).toMatchObject({ reason: 'QUERY_TOO_COMPLEX', complexity: 2401, maxComplexity: 1000 });
      expect((await run('{ me { role } }')).errors).toBeUndefined();
    } finally {
      await ws.dispose();
    }
  });
});

describe('per-key rate limits', () => {
  it('answers 429 RATE_LIMITED with Retry-After once a key spends its read budget; other keys are unaffected', async () => {
    const { adminKey } = await t.newWorkspace();
    const other = await t.newWorkspace();
    const [responses, ms] = await timed(() =>
      Promise.all(Array.from({ length: 30 }, () => t.http().post('/graphql').set('authorization', `Bearer ${adminKey}`).send({ query: '{ me { role } }' }))),
    );
    const ok = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    expect(ok.length + limited.length).toBe(30);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.length).toBeLessThanOrEqual(maxAllowed(ms));
    expect(Number(limited[0].headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited[0].body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', budget: 'read' });
    expect(limited[0].body.errors[0].extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(limited[0].body.data).toBeUndefined();
    expect((await t.gql('{ me { role } }', {}, other.adminKey)).errors).toBeUndefined();
  });

  it('counts ingest separately, and a refused ingest writes nothing (GraphQL and /v1)', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    const before = await countRows(t, workspaceId);
    const [gql, gqlMs] = await timed(() => Promise.all(Array.from({ length: 20 }, () => t.gql(IngestDocument, { events: [makeEvent()] }, adminKey))));
    const accepted = gql.filter((r) => r.status === 200).map((r) => r.data!.ingestEvents.accepted);
    const refused = gql.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => r.errors![0].extensions.code === 'RATE_LIMITED' && r.errors![0].extensions.budget === 'ingest')).toBe(true);
    expect(accepted.length).toBeLessThanOrEqual(maxAllowed(gqlMs));
    const after = await countRows(t, workspaceId);
    expect(after.events - before.events).toBe(accepted.reduce((a, b) => a + b, 0));

    // The read budget of the same key is untouched by ingest.
    expect((await t.gql('{ me { role } }', {}, adminKey)).errors).toBeUndefined();

    const ingestKey = (await t.gql(CreateApiKeyDocument, { input: { role: 'INGEST', name: 'sdk' } }, adminKey)).data!.createApiKey.key;
    const mid = await countRows(t, workspaceId);
    const [v1, v1Ms] = await timed(() =>
      Promise.all(Array.from({ length: 20 }, (_, i) => t.http().post('/v1/track').auth(ingestKey, '').send({ event: 'Rate', userId: `rl-${i}`, messageId: `rl-${i}` }))),
    );
    const v1ok = v1.filter((r) => r.status === 200);
    const v1limited = v1.filter((r) => r.status === 429);
    expect(v1limited.length).toBeGreaterThan(0);
    expect(v1ok.length).toBeLessThanOrEqual(maxAllowed(v1Ms));
    expect(Number(v1limited[0].headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(v1limited[0].body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'RATE_LIMITED', budget: 'ingest' });
    expect((await countRows(t, workspaceId)).events - mid.events).toBe(v1ok.length);
  });

  it('counts WebSocket operations against the key', async () => {
    const { adminKey } = await t.newWorkspace();
    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    try {
      const [codes, ms] = await timed(() => Promise.all(
        Array.from({ length: 25 }, () =>
          new Promise<string>((resolve) => {
            ws.client.subscribe({ query: '{ me { role } }' }, {
              next: () => {},
              error: (e) => resolve(String((e as { extensions?: { code?: string } }[])[0]?.extensions?.code)),
              complete: () => resolve('ok'),
            });
          }),
        ),
      ));
      expect(codes.filter((c) => c === 'RATE_LIMITED').length).toBeGreaterThan(0);
      expect(codes.filter((c) => c === 'ok').length).toBeLessThanOrEqual(maxAllowed(ms));
      expect(codes.every((c) => c === 'ok' || c === 'RATE_LIMITED')).toBe(true);
    } finally {
      await ws.dispose();
    }
  });

  it('shares the budget across instances through Redis', async () => {
    if (!(await redisAvailable())) {
      skipReason(`Redis is not reachable at ${REDIS_URL}: shared rate limit test skipped`);
      return;
    }
    if (!usingPostgres()) {
      skipReason('two instances need a shared PostgreSQL: set DATABASE_URL to run the shared rate limit test');
      return;
    }
    const a = await bootApp({ ...LOW, REDIS_URL });
    const b = await bootApp({ ...LOW, REDIS_URL });
    try {
      expect(a.app.rateLimits.kind).toBe('redis');
      await Promise.all([a.app.rateLimits.ready(), b.app.rateLimits.ready()]);
      const { adminKey } = await a.newWorkspace();
      const [responses, ms] = await timed(() =>
        Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 ? a : b).http().post('/graphql').set('authorization', `Bearer ${adminKey}`).send({ query: '{ me { role } }' }),
          ),
        ),
      );
      const ok = responses.filter((r) => r.status === 200).length;
      // Per-instance counters would let each instance pass its own 3 + 3 (12 or more in total).
      expect(ok).toBeGreaterThan(0);
      expect(ok).toBeLessThanOrEqual(maxAllowed(ms));
      expect(responses.filter((r) => r.status === 429).length).toBe(40 - ok);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('WebSocket connections per key', () => {
  it('closes the connection beyond SIYU_WS_MAX_CONNECTIONS_PER_KEY with 4429 and frees the slot on close', async () => {
    const { adminKey } = await t.newWorkspace();
    const other = await t.newWorkspace();
    const c1 = wsClient(t.url, adminKey);
    const c2 = wsClient(t.url, adminKey);
    await Promise.all([c1.connected, c2.connected]);
    const c3 = wsClient(t.url, adminKey);
    const refused = await c3.connected.then(() => null, (e: { code: number; reason: string }) => e);
    expect(refused).toMatchObject({ code: 4429 });
    expect(refused!.reason).toMatch(/Too many connections for this API key \(limit 2 per instance\)/);
    // Another key has its own slots.
    const o = wsClient(t.url, other.adminKey);
    await o.connected;
    await o.dispose();
    // Closing one frees its slot (the server sees the close a moment later).
    await c1.dispose();
    let again: Awaited<ReturnType<typeof wsClient>> | undefined;
    await waitUntil('a third connection to be accepted', async () => {
      const c = wsClient(t.url, adminKey);
      if (await c.connected.then(() => true, () => false)) again = c;
      return !!again;
    }, { intervalMs: 50 });
    await again!.dispose();
    await c2.dispose();
  });
});

describe('request body limits', () => {
  it('answers 413 BODY_TOO_LARGE to a GraphQL body over SIYU_BODY_LIMIT_BYTES and writes nothing', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    const before = await countRows(t, workspaceId);
    const events = Array.from({ length: 20 }, () => makeEvent({ properties: { pad: 'x'.repeat(5000) } }));
    const r = await t.http().post('/graphql').set('authorization', `Bearer ${adminKey}`).send({ query: 'mutation($e: [EventInput!]!) { ingestEvents(events: $e) { accepted } }', variables: { e: events } });
    expect(r.status).toBe(413);
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'BODY_TOO_LARGE' });
    expect(await countRows(t, workspaceId)).toEqual(before);
  });
});
