import { bootApp, type TestApp } from '../support/app';
import { rng } from '../../src/shared/random';
import { countRows } from '../support/rows';

/**
 * Bad input at scale: a few thousand generated malformed requests (seeded, reproducible) through
 * GraphQL (ingestEvents and a few queries and mutations) and the Segment API. Each must get a clear
 * error (4xx, or a GraphQL error / per-event rejection with a typed code; never 5xx or INTERNAL), the
 * server stays up, and no event, profile or identifier is written.
 */
const SEED = 20261123;
const REQUESTS = 2400;
const CONCURRENCY = 8;
const TYPED = new Set(['BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT']);

let t: TestApp;
beforeAll(async () => {
  // Rate limits are not under test here (limits.test.ts): let every request reach the validators.
  t = await bootApp({ SIYU_RATE_LIMIT_PER_SEC: '100000', SIYU_INGEST_RATE_LIMIT_PER_SEC: '100000' });
});
afterAll(() => t.stop());

const INJECTIONS = [
  "'; DROP TABLE events; --",
  '{"$gt":""}',
  "1' OR '1'='1",
  '<script>alert(1)</script>',
  '${jndi:ldap://x/a}',
  '../../../../etc/passwd',
  '\u0000',
  '％００',
  'null',
  '\ud800',
];

type R = ReturnType<typeof rng>;
const huge = (r: R) => 'x'.repeat(33_000 + r.int(20_000));
const junk = (r: R): string => (r.chance(0.1) ? huge(r) : r.pick(INJECTIONS));
const deep = (n: number): unknown => (n === 0 ? 'leaf' : { d: deep(n - 1) });

/** An event with at least one defect that rejects it, and junk in every other string field. */
function badEvent(r: R): Record<string, unknown> {
  const e: Record<string, unknown> = {
    messageId: junk(r),
    type: r.pick(['track', 'identify', 'page']),
    name: junk(r),
    channel: r.pick(['wechat_mp', 'app', 'web']),
    timestamp: '2026-11-01T08:00:00Z',
    identifiers: [{ type: 'member_id', value: junk(r) }],
    traits: { city: junk(r), nested: deep(r.int(50)) },
    properties: { note: junk(r), revenue: r.pick([junk(r), 1]) },
    context: { ip: junk(r), sharedBy: { type: junk(r), value: junk(r) } },
  };
  switch (r.int(8)) {
    case 0: e.type = junk(r); break; // unknown enum-like value
    case 1: e.channel = junk(r); break;
    case 2: e.identifiers = []; break;
    case 3: e.timestamp = r.pick(['not a date', junk(r), '1999-12-31T23:59:59Z', '2999-01-01T00:00:00Z']); break;
    case 4: e.messageId = r.pick(['', 'm'.repeat(201)]); break;
    case 5: e.traits = r.pick(['a string', [1, 2, 3], 42]); break;
    case 6: e.properties = { blob: 'y'.repeat(40_000) }; break; // over 32 KB
    default: e.identifiers = Array.from({ length: 21 + r.int(5) }, (_, i) => ({ type: 'device_id', value: `d-${i}` })); break;
  }
  return e;
}

/** A GraphQL variable of the wrong type for EventInput: the whole request fails coercion. */
function wrongTypes(r: R): unknown {
  const e = badEvent(r);
  switch (r.int(5)) {
    case 0: return [{ ...e, messageId: 123 }];
    case 1: return [{ ...e, identifiers: 'member_id:x' }];
    case 2: return { not: 'a list' };
    case 3: return [{ ...e, unknownField: junk(r) }];
    default: return [{ ...e, identifiers: [{ type: 1, value: true }] }];
  }
}

const INGEST = 'mutation I($events: [EventInput!]!) { ingestEvents(events: $events) { accepted duplicates rejected results { status error { code } } } }';

interface Req {
  path: string;
  contentType: string;
  body: string | Buffer;
  /** Events in an ingest request that parsed: every one must come back rejected. */
  events?: number;
  kind: 'graphql' | 'v1batch' | 'v1single';
}

function gqlReq(query: string, variables: unknown, events?: number): Req {
  return { path: '/graphql', contentType: 'application/json', body: JSON.stringify({ query, variables }), events, kind: 'graphql' };
}

function generate(r: R): Req {
  switch (r.int(10)) {
    case 0:
    case 1:
    case 2: {
      const events = Array.from({ length: 1 + r.int(3) }, () => badEvent(r));
      return gqlReq(INGEST, { events }, events.length);
    }
    case 3:
      return gqlReq(INGEST, { events: wrongTypes(r) });
    case 4: {
      const q = r.pick([
        ['query Q($id: ID!) { profile(id: $id) { id } }', { id: junk(r) }],
        ['query Q($i: IdentifierInput!) { profileByIdentifier(identifier: $i) { id } }', { i: { type: junk(r), value: junk(r), namespace: junk(r) } }],
        ['query Q($f: ProfileFilter) { profiles(first: 5, filter: $f) { edges { node { id } } } }', { f: { channel: junk(r), segment: junk(r), tag: junk(r) } }],
        ['query Q($n: Int!) { profiles(first: $n) { edges { node { id } } } }', { n: r.pick([0, -1, 1e9, '10', 2 ** 40]) }],
        ['mutation M($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }', { i: { role: r.pick(['SUPERUSER', junk(r), 'admin']), name: junk(r) } }],
        ['mutation M($i: CreateTagInput!) { createTag(input: $i) { key } }', { i: { key: junk(r), name: junk(r), kind: r.pick(['MANUAL', 'BOGUS']), expression: junk(r) } }],
        [`{ ${'me { workspace { '.repeat(1)}${'name '.repeat(2)}${'} } '.repeat(1)}${'{'.repeat(r.int(300))} }`, {}],
        [`{ profiles(first: 1) { edges { node { ${'events(first: 1) { edges { node { '.repeat(20)}name${' } } }'.repeat(20)} } } } }`, {}],
      ] as const);
      return gqlReq(q[0], q[1]);
    }
    case 5: {
      // Malformed bodies: invalid JSON, invalid UTF-8, wrong content types.
      const kind = r.int(4);
      if (kind === 0) return { path: '/graphql', contentType: 'application/json', body: r.pick(['{"query": ', '{{', '[1,2', 'null', '"x"', '{"query": 1}']), kind: 'graphql' };
      if (kind === 1) return { path: '/graphql', contentType: 'application/json', body: Buffer.concat([Buffer.from('{"query":"{ me { role } '), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}')]), kind: 'graphql' };
      if (kind === 2) return { path: '/graphql', contentType: r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml']), body: 'query={ me { role } }', kind: 'graphql' };
      return { path: '/graphql', contentType: 'application/json', body: JSON.stringify({ query: INGEST, variables: { events: [deep(2000)] } }), kind: 'graphql' };
    }
    case 6:
    case 7: {
      const batch = Array.from({ length: 1 + r.int(4) }, () => badSegment(r));
      if (r.chance(0.15)) return { path: '/v1/batch', contentType: 'application/json', body: Buffer.concat([Buffer.from('{"batch":[{"type":"track","event":"'), Buffer.from([0xc0, 0xaf, 0xff]), Buffer.from('"}]}')]), events: 1, kind: 'v1batch' };
      if (r.chance(0.03)) {
        const big = Array.from({ length: 20 }, () => ({ ...badSegment(r), context: { pad: 'p'.repeat(30_000) } }));
        return { path: '/v1/batch', contentType: 'application/json', body: JSON.stringify({ batch: big }), kind: 'v1batch' }; // over 500 KB: 413
      }
      if (r.chance(0.1)) return { path: '/v1/batch', contentType: 'application/json', body: r.pick(['{"batch": ', '{"batch": "nope"}', '[]', '{"batch": {}}']), kind: 'v1batch' };
      return { path: '/v1/batch', contentType: r.pick(['application/json', 'text/plain']), body: JSON.stringify({ batch }), events: batch.length, kind: 'v1batch' };
    }
    default: {
      const path = r.pick(['/v1/track', '/v1/identify', '/v1/page', '/v1/alias']);
      if (r.chance(0.1)) return { path, contentType: r.pick(['application/xml', 'multipart/form-data; boundary=x']), body: 'userId=x', kind: 'v1single' };
      return { path, contentType: 'application/json', body: JSON.stringify(badSegment(r, true)), events: 1, kind: 'v1single' };
    }
  }
}

/** A Segment message with a rejecting defect: no person, a bad type, a bad timestamp or too large. */
function badSegment(r: R, single = false): Record<string, unknown> {
  const m: Record<string, unknown> = {
    type: 'track',
    event: junk(r),
    userId: junk(r),
    messageId: junk(r),
    properties: { q: junk(r), $gt: '' },
    context: { ip: junk(r), page: { url: junk(r) } },
  };
  switch (r.int(5)) {
    case 0: delete m.userId; break;
    case 1:
      // On a single-message path the type comes from the path: drop the person instead.
      if (single) m.userId = r.pick(['', 'null']);
      else m.type = junk(r);
      break;
    case 2: m.timestamp = r.pick(['yesterday', '1970-01-01T00:00:00Z', junk(r)]); break;
    case 3: m.context = { ...(m.context as object), blob: 'z'.repeat(40_000) }; break;
    default: m.userId = r.pick(['', 'null', '0', 'undefined']); break;
  }
  return m;
}

function problem(req: Req, status: number, body: Record<string, unknown> | undefined): string | null {
  if (status >= 500 || status < 200) return `status ${status}`;
  const errors = (body?.errors ?? []) as { extensions?: { code?: string } }[];
  if (errors.some((e) => !TYPED.has(String(e.extensions?.code)))) return `untyped error ${JSON.stringify(errors[0])}`;
  if (status >= 400) return errors.length ? null : 'no error body';
  if (req.kind === 'graphql') {
    if (errors.length) return null;
    const out = (body?.data as { ingestEvents?: { accepted: number; duplicates: number; rejected: number; results: { error: { code: string } | null }[] } } | undefined)?.ingestEvents;
    if (!out) return 'answered without an error';
    if (out.accepted || out.duplicates || out.rejected !== req.events) return `ingest accepted ${out.accepted}, duplicates ${out.duplicates}, rejected ${out.rejected} of ${req.events}`;
    return out.results.every((x) => x.error && TYPED.has(x.error.code)) ? null : 'a rejection without a typed code';
  }
  const b = body as { accepted?: number; duplicates?: number; rejected?: number } | undefined;
  if (req.kind === 'v1batch' && b && b.accepted === 0 && b.duplicates === 0 && b.rejected === req.events) return null;
  return `answered ${status}: ${JSON.stringify(body).slice(0, 200)}`;
}

describe('bad input at scale', () => {
  it(`${REQUESTS} generated malformed requests: each a typed 4xx or rejection, nothing written, server up`, async () => {
    const { adminKey } = await t.newWorkspace();
    const before = await countRows(t);
    const r = rng(SEED);
    const reqs = Array.from({ length: REQUESTS }, () => generate(r));
    const failures: string[] = [];
    let next = 0;
    const statuses = new Map<number, number>();
    const worker = async () => {
      while (next < reqs.length) {
        const i = next++;
        const req = reqs[i];
        const res = await t.http().post(req.path).set('content-type', req.contentType).set('authorization', `Bearer ${adminKey}`).send(req.body);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const p = problem(req, res.status, res.body as Record<string, unknown>);
        if (p) failures.push(`#${i} ${req.path}: ${p} — request ${String(req.body).slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures.slice(0, 10)).toEqual([]);
    expect(await countRows(t)).toEqual(before);
    expect((await t.http().get('/readyz')).status).toBe(200);
    expect((await t.gql('{ me { role } }', {}, adminKey)).errors).toBeUndefined();
    // The generator reached every kind of answer.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 400, 413]));
  }, 300_000);
});
