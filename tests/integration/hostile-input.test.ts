import { monitorEventLoopDelay } from 'node:perf_hooks';
import { bootApp, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { countRows } from '../support/rows';
import { wsClient, type WsTestClient } from '../support/ws';

/**
 * Hostile documents and values, one kind at a time: fragment bombs and huge documents are refused
 * before validation (which walks expanded fragments), text PostgreSQL cannot store is refused in
 * any argument with INVALID_TEXT, and dates that are not on the calendar are rejected by name.
 */
let t: TestApp;
beforeAll(async () => {
  t = await bootApp({ SIYU_RATE_LIMIT_PER_SEC: '100000', SIYU_INGEST_RATE_LIMIT_PER_SEC: '100000' });
});
afterAll(() => t.stop());

/** `query { ...F<levels> }` where each fragment spreads the one below twice: 2^levels `me` fields once expanded. */
function fragmentBomb(levels: number, leaf = 'me { role }'): string {
  let q = `query { ...F${levels} } fragment F0 on Query { ${leaf} }`;
  for (let i = 1; i <= levels; i++) q += ` fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`;
  return q;
}

/** The error a graphql-ws subscription ends with (or its first result, if it runs). */
function firstOutcome(ws: WsTestClient, query: string, variables: Record<string, unknown> = {}): Promise<unknown> {
  return new Promise((resolve) => ws.client.subscribe({ query, variables }, { next: resolve, error: resolve, complete: () => resolve('complete') }));
}

const post = (body: unknown, key?: string) => {
  const r = t.http().post('/graphql').set('content-type', 'application/json');
  return (key ? r.set('authorization', `Bearer ${key}`) : r).send(JSON.stringify(body));
};

describe('documents that cost before any check', () => {
  it('refuses a fragment bomb without a key before validation, as QUERY_TOO_COMPLEX, over HTTP and WebSocket', async () => {
    // The bomb also has a validation error at its leaf: a server that validates (or expands) first
    // answers GRAPHQL_VALIDATION_FAILED; one that measures the document first refuses it unread.
    const invalidLeaf = await post({ query: fragmentBomb(20, 'me { role notAField }') });
    // Answered as application/json: 200 with the error (GraphQL over HTTP); 400 to a client that prefers application/graphql-response+json.
    expect(invalidLeaf.status).toBe(200);
    expect(invalidLeaf.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_COMPLEX' });
    const preferring = await t.http().post('/graphql').set('content-type', 'application/json').set('accept', 'application/graphql-response+json').send(JSON.stringify({ query: fragmentBomb(20, 'me { role notAField }') }));
    expect(preferring.status).toBe(400);
    expect(preferring.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_COMPLEX' });

    const { adminKey } = await t.newWorkspace();
    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    await expect(firstOutcome(ws, fragmentBomb(20, 'me { role notAField }'))).resolves.toEqual([expect.objectContaining({ extensions: expect.objectContaining({ reason: 'QUERY_TOO_COMPLEX' }) })]);
    await ws.dispose();
  });

  it('answers bombs of 38 levels at once while /healthz keeps answering (the loop is never held for seconds)', async () => {
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const bombs = Array.from({ length: 8 }, (_, i) => post({ query: fragmentBomb(30 + i) }));
    const health = t.http().get('/healthz');
    const answers = await Promise.all(bombs);
    expect((await health).status).toBe(200);
    loop.disable();
    for (const a of answers) expect(a.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_COMPLEX' });
    // Generous: expanding 2^30 fields would hold it for minutes; counting them takes microseconds.
    expect(loop.max / 1e6).toBeLessThan(1000);
  });

  it('refuses a fragment cycle by name, a selection of 10,001 fields and a document over 20,000 tokens before validating them', async () => {
    const cycle = await post({ query: 'query { ...A } fragment A on Query { me { role } ...B } fragment B on Query { ...A }' });
    expect(cycle.status).toBe(200);
    expect(cycle.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'FRAGMENT_CYCLE' });

    // Valid up to its last field: validated first, it would be GRAPHQL_VALIDATION_FAILED.
    const wide = await post({ query: `{ me { ${'role '.repeat(10_001)}} notAField }` });
    expect(wide.status).toBe(200);
    expect(wide.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_COMPLEX' });

    // A list in the variables beyond 1,000 items is refused before it is coerced, naming the variable.
    const list = await post({ query: 'query Q($t: [String!]) { profiles(first: 5, filter: { tags: $t }) { edges { node { id } } } }', variables: { t: Array.from({ length: 1001 }, (_, i) => `t${i}`) } });
    expect(list.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'TOO_MANY_VALUES', fields: [{ field: 't' }] });

    // Over the token limit: parsing stops there.
    const huge = await post({ query: `{ ${'me { role } '.repeat(30_000)} }` });
    expect(huge.status).toBe(200);
    expect(huge.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_LARGE', maxTokens: 20_000 });
  });

  it('still answers ordinary documents with fragments, a full batch of events in variables, and 250 written inline', async () => {
    const { adminKey } = await t.newWorkspace();
    const ok = await post({ query: `query { ...F4 } fragment F0 on Query { me { role } } ${[1, 2, 3, 4].map((i) => `fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`).join(' ')}` }, adminKey);
    expect(ok.body).toEqual({ data: { me: { role: 'ADMIN' } } });
    const events = Array.from({ length: 1000 }, (_, i) => ({ messageId: `vars-${i}`, type: 'track', name: 'Order Completed', channel: 'wechat_mp', timestamp: '2026-11-23T08:00:00Z', identifiers: [{ type: 'member_id', value: `vars-${i % 10}` }], properties: { revenue: 199 } }));
    const batch = await post({ query: 'mutation I($e: [EventInput!]!) { ingestEvents(events: $e) { accepted rejected } }', variables: { e: events } }, adminKey);
    expect(batch.body).toEqual({ data: { ingestEvents: { accepted: 1000, rejected: 0 } } });
    const inline = Array.from({ length: 250 }, (_, i) => `{ messageId: "inline-${i}", type: "track", name: "Order Completed", channel: "wechat_mp", timestamp: "2026-11-23T08:00:00Z", identifiers: [{ type: "member_id", value: "inline-${i % 10}" }], properties: { revenue: 199 } }`);
    const written = await post({ query: `mutation { ingestEvents(events: [${inline.join(',')}]) { accepted rejected } }` }, adminKey);
    expect(written.body).toEqual({ data: { ingestEvents: { accepted: 250, rejected: 0 } } });
  });
});

describe('text PostgreSQL cannot store, in any argument', () => {
  const NUL = 'a\u0000b';
  const LONE = 'x\ud800y';
  const cases: [string, string, Record<string, unknown>, string][] = [
    ['tag', 'query Q($k: String!) { tag(key: $k) { key } }', { k: NUL }, 'key'],
    ['profileByIdentifier', 'query Q($v: String!) { profileByIdentifier(identifier: { type: "member_id", value: $v }) { id } }', { v: '\u0000' }, 'identifier.value'],
    ['auditLog', 'query Q($a: String) { auditLog(filter: { action: $a }) { entries { id } } }', { a: '\u0000' }, 'filter.action'],
    ['pathAnalysis', 'query Q($s: String!) { pathAnalysis(startEvent: $s) { depth } }', { s: '\u0000' }, 'startEvent'],
    ['createTag', 'mutation M($i: CreateTagInput!) { createTag(input: $i) { key } }', { i: { key: 'vip', name: NUL, kind: 'MANUAL' } }, 'input.name'],
    ['updateWorkspace', 'mutation M($n: String) { updateWorkspace(input: { name: $n }) { name } }', { n: LONE }, 'input.name'],
    ['createApiKey', 'mutation M($n: String!) { createApiKey(input: { role: READ, name: $n }) { key } }', { n: NUL }, 'input.name'],
    ['kpi', 'query Q($c: [String!]) { kpi(metric: DAU, range: { from: "2026-11-01", to: "2026-11-02" }, filter: { channels: $c }) { label } }', { c: ['app', NUL] }, 'filter.channels.1'],
    ['TraitFilter.equals', 'query Q($e: JSON!) { profiles(first: 1, filter: { traits: [{ name: "city", equals: $e }] }) { edges { node { id } } } }', { e: { deep: ['\udc00'] } }, 'filter.traits.0.equals.deep.0'],
  ];

  it.each(cases)('%s: INVALID_TEXT naming the input field, nothing written', async (_name, query, variables, field) => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    const before = await t.app.db.dataSource.query('SELECT (SELECT count(*) FROM tags WHERE workspace_id = $1)::int AS tags, (SELECT count(*) FROM api_keys WHERE workspace_id = $1)::int AS keys', [workspaceId]);
    const r = await post({ query, variables }, adminKey);
    expect(r.status).toBe(200);
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_TEXT', fields: [{ field }] });
    const after = await t.app.db.dataSource.query('SELECT (SELECT count(*) FROM tags WHERE workspace_id = $1)::int AS tags, (SELECT count(*) FROM api_keys WHERE workspace_id = $1)::int AS keys', [workspaceId]);
    expect(after).toEqual(before);
  });

  it('refuses it in literals and over WebSocket too, and leaves ingestEvents rejecting the one bad event', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    const literal = await post({ query: '{ tag(key: "a\\u0000b") { key } }' }, adminKey);
    expect(literal.body.errors[0].extensions).toMatchObject({ reason: 'INVALID_TEXT', fields: [{ field: 'key' }] });

    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    const sub = firstOutcome(ws, 'subscription S($c: [String!]) { kpiUpdated(metrics: [DAU], filter: { channels: $c }) { version } }', { c: [NUL] });
    await expect(sub).resolves.toEqual([expect.objectContaining({ extensions: expect.objectContaining({ reason: 'INVALID_TEXT' }) })]);
    await ws.dispose();

    const events = [makeEvent({ name: NUL }), makeEvent()];
    const ingest = await post({ query: 'mutation I($e: [EventInput!]!) { ingestEvents(events: $e) { accepted rejected results { error { reason field } } } }', variables: { e: events } }, adminKey);
    expect(ingest.body.data.ingestEvents).toEqual({ accepted: 1, rejected: 1, results: [{ error: { reason: 'INVALID_TEXT', field: 'name' } }, { error: null }] });
    expect((await countRows(t, workspaceId)).events).toBe(1);
  });
});

describe('dates that are not on the calendar', () => {
  it('rejects an impossible event timestamp alone, in ingestEvents and /v1, and stores nothing for it', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    const events = [makeEvent({ timestamp: '2026-02-30T08:00:00Z' }), makeEvent({ timestamp: '2026-02-28T08:00:00Z' }), makeEvent({ timestamp: '2026-04-31T10:00:00+08:00' })];
    const r = await post({ query: 'mutation I($e: [EventInput!]!) { ingestEvents(events: $e) { accepted rejected results { error { reason field } } } }', variables: { e: events } }, adminKey);
    expect(r.body.data.ingestEvents).toEqual({
      accepted: 1,
      rejected: 2,
      results: [{ error: { reason: 'INVALID_TIMESTAMP', field: 'timestamp' } }, { error: null }, { error: { reason: 'INVALID_TIMESTAMP', field: 'timestamp' } }],
    });

    const v1 = await t
      .http()
      .post('/v1/batch')
      .set('authorization', `Bearer ${adminKey}`)
      .send({
        batch: [
          { type: 'track', event: 'X', userId: 'u-cal', messageId: 'cal-1', timestamp: '2026-02-30T08:00:00Z' },
          { type: 'track', event: 'X', userId: 'u-cal', messageId: 'cal-2', timestamp: '2026-02-29T08:00:00.000Z', sentAt: '2026-02-29T08:00:01.000Z' },
          { type: 'track', event: 'X', userId: 'u-cal', messageId: 'cal-3', timestamp: '2026-03-01T08:00:00Z' },
        ],
      });
    expect(v1.status).toBe(200);
    expect(v1.body).toMatchObject({ accepted: 1, rejected: 2 });
    expect(v1.body.results.map((x: { error?: { reason: string; field: string } | null }) => x.error?.reason ?? null)).toEqual(['INVALID_TIMESTAMP', 'INVALID_TIMESTAMP', null]);
    const stored = await t.app.db.dataSource.query(`SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM events WHERE workspace_id = $1 ORDER BY ts`, [workspaceId]);
    expect(stored.map((s: { day: string }) => s.day)).toEqual(['2026-02-28', '2026-03-01']);
  });

  it('refuses impossible dates in GraphQL date and date-time inputs with the field named', async () => {
    const { adminKey } = await t.newWorkspace();
    const dt = await post({ query: 'query Q($f: AuditLogFilter) { auditLog(filter: $f) { entries { id } } }', variables: { f: { from: '2026-02-30T00:00:00Z' } } }, adminKey);
    expect(dt.status).toBe(200);
    expect(dt.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(dt.body.errors[0].message).toContain('from');
    const day = await post({ query: '{ kpi(metric: DAU, range: { from: "2026-02-30", to: "2026-03-02" }) { label } }' }, adminKey);
    expect(day.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_KPI_RANGE', fields: [{ field: 'range.from' }] });
  });
});
