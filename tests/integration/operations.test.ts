import { bootApp, type TestApp } from '../support/app';
import { MeDocument } from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

describe('operations endpoints', () => {
  it('/healthz says the process is up', async () => {
    const res = await t.http().get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('/readyz checks the database and migrations', async () => {
    const res = await t.http().get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
  });

  it('/metrics exposes request counts, latency, event-loop lag and the DB pool', async () => {
    const { adminKey } = await t.newWorkspace();
    await t.gql(MeDocument, {}, adminKey);
    const res = await t.http().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.text).toMatch(/siyu_http_requests_total\{method="POST",route="\/graphql",status="200"\} [1-9]/);
    expect(res.text).toContain('siyu_http_request_duration_seconds_bucket');
    expect(res.text).toMatch(/siyu_graphql_operations_total\{type="query",name="Me",outcome="ok"\} [1-9]/);
    expect(res.text).toContain('siyu_nodejs_eventloop_lag_seconds');
    expect(res.text).toMatch(/siyu_db_pool_connections\{state="total"\} \d+/);
  });

  it('serves no Apollo landing page that would load from the internet', async () => {
    const res = await t.http().get('/graphql').set('accept', 'text/html');
    expect(res.text).not.toMatch(/apollographql|cdn\.|embeddable-sandbox/i);
  });
});

describe('GraphiQL at /graphiql', () => {
  it('serves the bundled IDE from this server only, or says it is not built', async () => {
    const fs = await import('node:fs');
    const { graphiqlBundleDir, GRAPHIQL_CSP } = await import('../../src/platform/graphql/graphiql');
    const page = await t.http().get('/graphiql/');
    if (fs.existsSync(graphiqlBundleDir())) {
      expect(page.status).toBe(200);
      expect(page.headers['content-security-policy']).toBe(GRAPHIQL_CSP);
      expect(page.text).toContain('src="./graphiql.js"');
      expect(page.text).not.toMatch(/https?:\/\//);
      const js = await t.http().get('/graphiql/graphiql.js');
      expect(js.status).toBe(200);
      expect(js.text).not.toMatch(/(unpkg\.com|cdn\.jsdelivr\.net)\/[^"']*\.(js|css)/);
    } else {
      expect(page.status).toBe(503);
      expect(page.text).toContain('npm run build');
    }
  });
});

describe('subscriptions over HTTP', () => {
  it('are refused with a clear input error, not an internal one', async () => {
    const { adminKey } = await t.newWorkspace();
    const res = await t.gql('subscription { workspaceUpdated { id } }', {}, adminKey);
    expect(res.status).toBe(200); // a request error, answered as application/json
    expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'SUBSCRIPTION_OVER_HTTP' });
  });
});
