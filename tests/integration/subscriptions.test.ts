import { bootApp, type TestApp } from '../support/app';
import { collect, wsClient } from '../support/ws';
import { UpdateWorkspaceDocument, WorkspaceUpdatedDocument, type WorkspaceUpdatedSubscription } from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

describe('graphql-ws on /graphql', () => {
  it('a valid key subscribes and receives changes of its own workspace only', async () => {
    const a = await t.newWorkspace('A');
    const b = await t.newWorkspace('B');
    const ws = wsClient(t.url, a.adminKey);
    await ws.connected;
    const sub = collect<WorkspaceUpdatedSubscription>(ws.client, WorkspaceUpdatedDocument);
    // The subscription is registered server-side asynchronously; retry the update until it arrives.
    let n = 0;
    while (sub.results.length === 0 && n < 50) {
      await t.gql(UpdateWorkspaceDocument, { input: { name: `B-${n}` } }, b.adminKey);
      await t.gql(UpdateWorkspaceDocument, { input: { name: `A-${n}` } }, a.adminKey);
      n++;
      await sub.next(1, 100).catch(() => undefined);
    }
    const [first] = await sub.next(1);
    expect(first.errors).toBeUndefined();
    expect(first.data!.workspaceUpdated.id).toBe(a.workspaceId);
    expect(first.data!.workspaceUpdated.name).toMatch(/^A-/);
    expect(sub.results.every((r) => r.data!.workspaceUpdated.id === a.workspaceId)).toBe(true);
    sub.unsubscribe();
    await ws.dispose();
  });

  it('refuses a socket with an invalid key at connection', async () => {
    const ws = wsClient(t.url, 'siyu_wrong-key-00000000000000000000000');
    await expect(ws.connected).rejects.toMatchObject({ code: 4403 });
    await ws.dispose();
  });

  it('refuses a socket without a key at connection', async () => {
    const ws = wsClient(t.url, null);
    await expect(ws.connected).rejects.toMatchObject({ code: 4403 });
    await ws.dispose();
  });

  it('formats errors on the socket like on HTTP', async () => {
    const { adminKey } = await t.newWorkspace();
    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    const err = await new Promise<unknown>((resolve) => {
      ws.client.subscribe({ query: 'subscription { nope }' }, { next: () => {}, error: resolve, complete: () => resolve(null) });
    });
    expect(Array.isArray(err)).toBe(true);
    expect((err as { extensions: { code: string } }[])[0].extensions.code).toBe('BAD_USER_INPUT');
    await ws.dispose();
  });
});
