import { serverAudits } from 'graphql-http';
import { bootAppPerFile } from '../support/app';

const t = bootAppPerFile();

const JSON_TYPE = 'application/json';
const GRAPHQL_RESPONSE = 'application/graphql-response+json';

async function post(body: unknown, accept: string | null, key?: string) {
  let r = t.http().post('/graphql').set('content-type', 'application/json');
  if (accept) r = r.set('accept', accept);
  if (key !== undefined) r = r.set('authorization', `Bearer ${key}`);
  const res = await r.send(JSON.stringify(body));
  const parsed = JSON.parse(res.text) as { data?: unknown; errors?: { message: string; extensions: { code: string } }[] };
  return { status: res.status, contentType: String(res.headers['content-type']), ...parsed };
}

describe('the graphql-http server audit', () => {
  it('reports no warning and no error (parse, validation and variable coercion failures answer 200 as application/json)', async () => {
    const problems: string[] = [];
    for (const audit of serverAudits({ url: () => `${t.url}/graphql` })) {
      const result = await audit.fn();
      // Notices are MAYs: GET forms that the CSRF guard refuses.
      if (result.status === 'warn' || result.status === 'error') problems.push(`${audit.id} ${result.status}: ${audit.name} — ${result.reason}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('request errors and HTTP status', () => {
  it.each([
    ['a parse failure', { query: '{ me {' }],
    ['a validation failure', { query: '{ nope }' }],
    ['a variable coercion failure', { query: 'query ($n: Int!) { profiles(first: $n) { totalCount } }', variables: { n: 'many' } }],
  ])('%s: 200 as application/json (also without Accept), 400 as application/graphql-response+json', async (_name, body) => {
    const { adminKey } = await t.newWorkspace();
    for (const accept of [JSON_TYPE, null]) {
      const res = await post(body, accept, adminKey);
      expect({ status: res.status, contentType: res.contentType }).toEqual({ status: 200, contentType: expect.stringContaining(JSON_TYPE) });
      expect(res.data).toBeUndefined();
      expect(res.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    }
    const strict = await post(body, GRAPHQL_RESPONSE, adminKey);
    expect({ status: strict.status, contentType: strict.contentType }).toEqual({ status: 400, contentType: expect.stringContaining(GRAPHQL_RESPONSE) });
    expect(strict.errors![0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a request that is not well-formed keeps its 400', async () => {
    const res = await post({ query: 42 }, JSON_TYPE);
    expect(res.status).toBe(400);
  });
});

describe('no key and a wrong key', () => {
  it('answer the same way: 200 with UNAUTHENTICATED and data null, for either response media type', async () => {
    const { adminKey } = await t.newWorkspace();
    const query = { query: '{ me { role } }' };
    for (const accept of [JSON_TYPE, GRAPHQL_RESPONSE]) {
      const none = await post(query, accept);
      const wrong = await post(query, accept, 'siyu_not-a-real-key-000000000000000');
      const malformed = await post(query, accept, '');
      for (const res of [none, wrong, malformed]) {
        expect({ accept, status: res.status, data: res.data, code: res.errors?.[0]?.extensions.code }).toEqual({ accept, status: 200, data: null, code: 'UNAUTHENTICATED' });
      }
      expect(wrong.errors![0].message).toBe('The API key is unknown or revoked.');
    }
    // A revoked key too.
    const created = await t.gql<{ createApiKey: { key: string; apiKey: { id: string } } }>(
      'mutation { createApiKey(input: { role: READ, name: "soon revoked" }) { key apiKey { id } } }',
      {},
      adminKey,
    );
    const { key, apiKey } = created.data!.createApiKey;
    expect((await t.gql(`mutation { revokeApiKey(id: "${apiKey.id}") { revokedAt } }`, {}, adminKey)).errors).toBeUndefined();
    const revoked = await post(query, JSON_TYPE, key);
    expect({ status: revoked.status, code: revoked.errors?.[0]?.extensions.code }).toEqual({ status: 200, code: 'UNAUTHENTICATED' });
    // Introspection needs no key, with or without a wrong one.
    expect((await post({ query: '{ __typename }' }, JSON_TYPE, 'siyu_wrong')).data).toEqual({ __typename: 'Query' });
  });
});
