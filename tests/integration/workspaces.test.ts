import { bootApp, type TestApp } from '../support/app';
import {
  ApiKeysDocument,
  CreateApiKeyDocument,
  CreateWorkspaceDocument,
  MeDocument,
  RevokeApiKeyDocument,
  UpdateWorkspaceDocument,
} from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

describe('authentication', () => {
  it('answers me with an admin key', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace('品牌 A');
    const res = await t.gql(MeDocument, {}, adminKey);
    expect(res.errors).toBeUndefined();
    expect(res.data!.me).toMatchObject({ role: 'ADMIN', pii: true, workspace: { id: workspaceId, name: '品牌 A', timeZone: 'Asia/Shanghai' } });
  });

  it('refuses an unknown key with UNAUTHENTICATED, as a request without a key (HTTP 200, GraphQL over HTTP)', async () => {
    const res = await t.gql(MeDocument, {}, 'siyu_not-a-real-key-000000000000000');
    expect(res.status).toBe(200);
    expect(res.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    expect(res.data).toBeNull();
  });

  it('refuses a request without a key with UNAUTHENTICATED', async () => {
    const res = await t.gql(MeDocument, {}, null);
    expect(res.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    expect(res.data?.me).toBeUndefined();
  });

  it('gives FORBIDDEN to an ingest key calling an admin mutation, and changes nothing', async () => {
    const { adminKey } = await t.newWorkspace('before');
    const created = await t.gql(CreateApiKeyDocument, { input: { role: 'INGEST', name: 'mini program SDK' } }, adminKey);
    const ingestKey = created.data!.createApiKey.key;
    expect(created.data!.createApiKey.apiKey).toMatchObject({ role: 'INGEST', pii: false });

    const res = await t.gql(UpdateWorkspaceDocument, { input: { name: 'after' } }, ingestKey);
    expect(res.errors![0].extensions.code).toBe('FORBIDDEN');
    expect(res.errors![0].path).toEqual(['updateWorkspace']);
    const me = await t.gql(MeDocument, {}, adminKey);
    expect(me.data!.me.workspace.name).toBe('before');
  });

  it('lets every role ask who it is', async () => {
    const { adminKey } = await t.newWorkspace();
    for (const role of ['INGEST', 'READ', 'ANALYST'] as const) {
      const { data } = await t.gql(CreateApiKeyDocument, { input: { role, name: role } }, adminKey);
      const me = await t.gql(MeDocument, {}, data!.createApiKey.key);
      expect(me.data!.me.role).toBe(role);
    }
  });
});

describe('API keys', () => {
  it('stores keys hashed and shows only a prefix', async () => {
    const { adminKey } = await t.newWorkspace();
    const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'console', pii: true } }, adminKey);
    const { key, apiKey } = data!.createApiKey;
    expect(key).toMatch(/^siyu_[A-Za-z0-9_-]{32}$/);
    expect(key.startsWith(apiKey.prefix)).toBe(true);
    expect(apiKey.pii).toBe(true);
    const rows = await t.app.db.dataSource.query('SELECT key_hash FROM api_keys WHERE id = $1', [apiKey.id]);
    expect(rows[0].key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0].key_hash).not.toContain(key);
  });

  it('only READ keys carry the pii flag: asking it for an ANALYST key is refused, not dropped', async () => {
    const { adminKey } = await t.newWorkspace();
    const refused = await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'bi', pii: true } }, adminKey);
    expect(refused.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PII_NOT_ALLOWED' });
    const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'bi' } }, adminKey);
    expect(data!.createApiKey.apiKey.pii).toBe(false);
  });

  it('revoked keys stop working at once', async () => {
    const { adminKey } = await t.newWorkspace();
    const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'temp' } }, adminKey);
    const { key, apiKey } = data!.createApiKey;
    expect((await t.gql(MeDocument, {}, key)).data!.me.role).toBe('READ');
    const revoked = await t.gql(RevokeApiKeyDocument, { id: apiKey.id }, adminKey);
    expect(revoked.data!.revokeApiKey.revokedAt).not.toBeNull();
    const after = await t.gql(MeDocument, {}, key);
    expect(after.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    const again = await t.gql(RevokeApiKeyDocument, { id: apiKey.id }, adminKey);
    expect(again.errors![0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'API_KEY_ALREADY_REVOKED' });
  });

  it('refuses to revoke the last active admin key', async () => {
    const { adminKey } = await t.newWorkspace();
    const me = await t.gql(MeDocument, {}, adminKey);
    const res = await t.gql(RevokeApiKeyDocument, { id: me.data!.me.apiKeyId }, adminKey);
    expect(res.errors![0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'LAST_ADMIN_KEY' });
    expect((await t.gql(MeDocument, {}, adminKey)).data!.me.role).toBe('ADMIN');
  });

  it('lists the workspace keys without secrets', async () => {
    const { adminKey } = await t.newWorkspace();
    await t.gql(CreateApiKeyDocument, { input: { role: 'INGEST', name: 'sdk' } }, adminKey);
    const res = await t.gql(ApiKeysDocument, {}, adminKey);
    expect(res.data!.apiKeys.map((k) => k.role).sort()).toEqual(['ADMIN', 'INGEST']);
    expect(JSON.stringify(res.data)).not.toContain(adminKey);
  });
});

describe('workspaces are tenants', () => {
  it('creates a workspace with its own admin key, invisible to the creator', async () => {
    const a = await t.newWorkspace('A');
    const res = await t.gql(CreateWorkspaceDocument, { input: { name: '品牌 B', timeZone: 'Asia/Tokyo' } }, a.adminKey);
    const b = res.data!.createWorkspace;
    expect(b.workspace).toMatchObject({ name: '品牌 B', timeZone: 'Asia/Tokyo' });
    const meB = await t.gql(MeDocument, {}, b.adminKey.key);
    expect(meB.data!.me.workspace.id).toBe(b.workspace.id);
    const meA = await t.gql(MeDocument, {}, a.adminKey);
    expect(meA.data!.me.workspace.id).toBe(a.workspaceId);
  });

  it('cannot revoke a key of another workspace', async () => {
    const a = await t.newWorkspace('A');
    const b = await t.newWorkspace('B');
    const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'b key' } }, b.adminKey);
    const res = await t.gql(RevokeApiKeyDocument, { id: data!.createApiKey.apiKey.id }, a.adminKey);
    expect(res.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'API_KEY_NOT_FOUND' });
    expect((await t.gql(MeDocument, {}, data!.createApiKey.key)).data!.me.role).toBe('READ');
  });

  it('rejects bad settings naming each field, and changes nothing', async () => {
    const { adminKey } = await t.newWorkspace('unchanged');
    const res = await t.gql(UpdateWorkspaceDocument, { input: { name: '', timeZone: 'Mars/Olympus' } }, adminKey);
    const err = res.errors![0];
    expect(err.extensions.code).toBe('BAD_USER_INPUT');
    const fields = (err.extensions.fields as { field: string }[]).map((f) => f.field).sort();
    expect(fields).toEqual(['name', 'timeZone']);
    const me = await t.gql(MeDocument, {}, adminKey);
    expect(me.data!.me.workspace).toMatchObject({ name: 'unchanged', timeZone: 'Asia/Shanghai' });
  });

  it('updates the time zone', async () => {
    const { adminKey } = await t.newWorkspace();
    const res = await t.gql(UpdateWorkspaceDocument, { input: { timeZone: 'Europe/Berlin' } }, adminKey);
    expect(res.data!.updateWorkspace.timeZone).toBe('Europe/Berlin');
  });
});

describe('bad requests', () => {
  it('answers malformed JSON with a typed error', async () => {
    const res = await t.http().post('/graphql').set('content-type', 'application/json').send('{"query": ');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'MALFORMED_JSON' });
  });

  it('answers an unknown field with BAD_USER_INPUT', async () => {
    const { adminKey } = await t.newWorkspace();
    const res = await t.gql('{ nope }', {}, adminKey);
    expect(res.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toContain('nope');
  });

  it('answers a wrongly typed variable with BAD_USER_INPUT naming it', async () => {
    const { adminKey } = await t.newWorkspace();
    const res = await t.gql(CreateApiKeyDocument, { input: { role: 'ROOT', name: 'x' } } as never, adminKey);
    expect(res.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toContain('role');
  });

  it('refuses a body over the limit', async () => {
    const { adminKey } = await t.newWorkspace();
    const big = 'x'.repeat(t.app.config.bodyLimitBytes + 10);
    const res = await t.http().post('/graphql').set('authorization', `Bearer ${adminKey}`).set('content-type', 'application/json').send(JSON.stringify({ query: `{ me { role } } # ${big}` }));
    expect(res.status).toBe(413);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'BODY_TOO_LARGE' });
  });
});
