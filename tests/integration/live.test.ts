import WebSocket from 'ws';
import { print } from 'graphql';
import { ingestOne } from '../support/api';
import { bootApp, type TestApp } from '../support/app';
import { waitUntil } from '../support/wait';
import { collect, wsClient, type WsTestClient } from '../support/ws';
import {
  CreateApiKeyDocument,
  CreateTagDocument,
  ProfileDocument,
  ProfileUpdatedDocument,
  SetLiveIntervalDocument,
  TagProfilesDocument,
  UnmergeDocument,
  type ProfileUpdatedSubscription,
} from '../generated/graphql';

type Sub = ReturnType<typeof collect<ProfileUpdatedSubscription>>;
const versions = (s: Sub) => s.results.map((r) => r.data!.profileUpdated.version);
const strictlyIncreasing = (v: number[]) => v.every((x, i) => i === 0 || x > v[i - 1]);

/** In the PostgreSQL + Redis run, change events travel through Redis pub/sub as in production. */
const redisEnv = (): Record<string, string> => (process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {});

describe('profileUpdated (live layer)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootApp(redisEnv());
  });
  afterAll(() => t.stop());

  it('1,000 subscriptions to one profile share one computation per commit and all receive the new version', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    expect((await t.gql(SetLiveIntervalDocument, { ms: 100 }, adminKey)).data!.updateWorkspace.liveUpdateIntervalMs).toBe(100);
    const id = await ingestOne(t, adminKey, ['member_id::live-1000']);
    const key = `profile:${workspaceId}:${id}`;
    const hub = t.app.services.live;
    const clients: WsTestClient[] = Array.from({ length: 4 }, () => wsClient(t.url, adminKey));
    await Promise.all(clients.map((c) => c.connected));
    const subs: Sub[] = [];
    for (let i = 0; i < 1000; i++) subs.push(collect<ProfileUpdatedSubscription>(clients[i % 4].client, ProfileUpdatedDocument, { id }));
    await Promise.all(subs.map((s) => s.next(1, 60_000)));
    expect(hub.source(key)).toMatchObject({ subscribers: 1000, computations: 1, version: 1 });
    expect(subs.every((s) => s.results[0].data!.profileUpdated.profile.eventCount === 1)).toBe(true);

    await ingestOne(t, adminKey, ['member_id::live-1000']);
    await Promise.all(subs.map((s) => s.next(2, 60_000)));
    expect(hub.source(key)!.computations).toBe(2);
    for (const s of subs) {
      expect(s.results).toHaveLength(2);
      expect(s.results[1].errors).toBeUndefined();
      expect(s.results[1].data!.profileUpdated).toMatchObject({ version: 2, profile: { id, eventCount: 2 } });
    }
    const metrics = await t.app.metrics.registry.getSingleMetricAsString('siyu_live_computations_total');
    expect(metrics).toMatch(/siyu_live_computations_total\{kind="profile"\} \d+/);

    for (const s of subs) s.unsubscribe();
    await waitUntil('the hub to forget the source', () => hub.source(key) === null);
    await Promise.all(clients.map((c) => c.dispose()));
  }, 180_000);

  it('coalesces rapid commits within one interval into at most two computations, ending on the final value', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    await t.gql(SetLiveIntervalDocument, { ms: 5000 }, adminKey);
    const id = await ingestOne(t, adminKey, ['member_id::live-burst']);
    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    const sub = collect<ProfileUpdatedSubscription>(ws.client, ProfileUpdatedDocument, { id });
    await sub.next(1);
    const N = 10;
    for (let i = 0; i < N; i++) await ingestOne(t, adminKey, ['member_id::live-burst']);
    await waitUntil('the final value', () => sub.results.at(-1)!.data!.profileUpdated.profile.eventCount === N + 1, { timeoutMs: 30_000 });
    const computations = t.app.services.live.source(`profile:${workspaceId}:${id}`)!.computations;
    expect(computations - 1).toBeGreaterThanOrEqual(1);
    expect(computations - 1).toBeLessThanOrEqual(2);
    expect(strictlyIncreasing(versions(sub))).toBe(true);
    await ws.dispose();
  }, 60_000);

  it('follows merges: a merged-away id resolves to its survivor, and its subscribers see the merge', async () => {
    const { adminKey } = await t.newWorkspace();
    await t.gql(SetLiveIntervalDocument, { ms: 100 }, adminKey);
    const older = await ingestOne(t, adminKey, ['member_id::live-m1'], { timestamp: '2026-11-01T00:00:00Z' });
    const newer = await ingestOne(t, adminKey, ['wechat_unionid:wx_open:live-u1'], { timestamp: '2026-11-02T00:00:00Z' });
    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    const onNewer = collect<ProfileUpdatedSubscription>(ws.client, ProfileUpdatedDocument, { id: newer });
    const [first] = await onNewer.next(1);
    expect(first.data!.profileUpdated.profile.id).toBe(newer);

    await ingestOne(t, adminKey, ['member_id::live-m1', 'wechat_unionid:wx_open:live-u1'], { timestamp: '2026-11-03T00:00:00Z' });
    await waitUntil('the merged version', () => onNewer.results.at(-1)!.data!.profileUpdated.profile.id === older);
    expect(onNewer.results.at(-1)!.data!.profileUpdated.profile.eventCount).toBe(3);

    // Subscribing with the merged-away id shows the survivor at once.
    const late = collect<ProfileUpdatedSubscription>(ws.client, ProfileUpdatedDocument, { id: newer });
    const [l] = await late.next(1);
    expect(l.data!.profileUpdated.profile).toMatchObject({ id: older, eventCount: 3 });

    // Unmerge is published too: the survivor's subscribers get a version without the restored events.
    const onOlder = collect<ProfileUpdatedSubscription>(ws.client, ProfileUpdatedDocument, { id: older });
    await onOlder.next(1);
    const mergeId = (await t.gql(ProfileDocument, { id: older }, adminKey)).data!.profile.mergeHistory[0].id;
    expect((await t.gql(UnmergeDocument, { mergeId }, adminKey)).errors).toBeUndefined();
    await waitUntil('the unmerged version', () => onOlder.results.at(-1)!.data!.profileUpdated.profile.eventCount === 2);
    expect(strictlyIncreasing(versions(onOlder))).toBe(true);
    await ws.dispose();
  });

  it('pushes a new version after a manual tag change', async () => {
    const { adminKey } = await t.newWorkspace();
    await t.gql(SetLiveIntervalDocument, { ms: 100 }, adminKey);
    const id = await ingestOne(t, adminKey, ['member_id::live-tag']);
    expect((await t.gql(CreateTagDocument, { input: { key: 'vip', name: 'VIP', kind: 'MANUAL' } }, adminKey)).errors).toBeUndefined();
    const ws = wsClient(t.url, adminKey);
    await ws.connected;
    const sub = collect<ProfileUpdatedSubscription>(ws.client, ProfileUpdatedDocument, { id });
    await sub.next(1);
    expect((await t.gql(TagProfilesDocument, { tagKey: 'vip', profileIds: [id] }, adminKey)).errors).toBeUndefined();
    const [, second] = await sub.next(2);
    expect(second.data!.profileUpdated.version).toBe(2);
    await ws.dispose();
  });

  it('refuses an interval under 100 ms, an unknown profile and a key that may not read (no live source started)', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    const id = await ingestOne(t, adminKey, ['member_id::live-refused']);
    const ingestKey = (await t.gql(CreateApiKeyDocument, { input: { role: 'INGEST', name: 'sdk' } }, adminKey)).data!.createApiKey.key;
    const first = (key: string, vars: { id: string }) => {
      const ws = wsClient(t.url, key);
      return new Promise<unknown>((resolve) =>
        ws.client.subscribe({ query: print(ProfileUpdatedDocument), variables: vars }, { next: resolve, error: resolve, complete: () => {} }),
      ).finally(() => ws.dispose());
    };
    const tooFast = await t.gql(SetLiveIntervalDocument, { ms: 50 }, adminKey);
    expect(tooFast.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(JSON.stringify(await first(adminKey, { id: unknown }))).toContain('NOT_FOUND');
    expect(t.app.services.live.source(`profile:${workspaceId}:${unknown}`)).toBeNull();
    expect(JSON.stringify(await first(ingestKey, { id }))).toContain('FORBIDDEN');
    expect(t.app.services.live.source(`profile:${workspaceId}:${id}`)).toBeNull();
  });
});

describe('slow consumers', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Tiny limits so that a paused reader trips the guard after a few large frames.
    t = await bootApp({ ...redisEnv(), SIYU_WS_MAX_BUFFERED_BYTES: '65536', SIYU_WS_STALL_TIMEOUT_MS: '500' });
  });
  afterAll(() => t.stop());

  it('closes a socket that stopped reading with 4413, frees its subscriptions, and keeps normal readers strictly increasing', async () => {
    const { workspaceId, adminKey } = await t.newWorkspace();
    await t.gql(SetLiveIntervalDocument, { ms: 100 }, adminKey);
    // A profile with ~300 KB of traits, so that every frame is large.
    let id = '';
    for (let i = 0; i < 10; i++) {
      id = await ingestOne(t, adminKey, ['member_id::live-slow'], { type: 'identify', name: null, traits: { [`bio${i}`]: 'x'.repeat(30_000) } });
    }
    const key = `profile:${workspaceId}:${id}`;
    const hub = t.app.services.live;

    const normal = wsClient(t.url, adminKey);
    await normal.connected;
    const good = collect<ProfileUpdatedSubscription>(normal.client, ProfileUpdatedDocument, { id });
    await good.next(1, 20_000);

    // A raw graphql-transport-ws client that subscribes 5 times, reads the first values, then stops reading.
    const raw = new WebSocket(t.url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
    const closed = new Promise<{ code: number; reason: string }>((resolve) => raw.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    await new Promise((r) => raw.once('open', r));
    raw.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${adminKey}` } }));
    await new Promise((r) => raw.once('message', r));
    let rawNext = 0;
    raw.on('message', (m) => {
      if (JSON.parse(String(m)).type === 'next') rawNext++;
    });
    for (let i = 0; i < 5; i++) raw.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: print(ProfileUpdatedDocument), variables: { id } } }));
    await waitUntil('the slow client to get its first values', () => rawNext >= 5);
    expect(hub.source(key)!.subscribers).toBe(6);
    (raw as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    // Values keep changing until the guard cuts the paused socket off.
    let n = 0;
    while (hub.source(key)!.subscribers > 1) {
      if (n++ > 400) throw new Error('the slow consumer was never closed');
      await ingestOne(t, adminKey, ['member_id::live-slow']);
    }
    expect(hub.source(key)!.subscribers).toBe(1);
    const slowCloses = await t.app.metrics.registry.getSingleMetricAsString('siyu_ws_slow_consumer_closes_total');
    expect(slowCloses).toMatch(/siyu_ws_slow_consumer_closes_total\{reason="(buffered|stalled)"\} 1/);

    // Once it reads again, the client finds the close frame after the buffered data.
    (raw as unknown as { _socket: { resume(): void } })._socket.resume();
    const { code, reason } = await closed;
    expect(code).toBe(4413);
    expect(reason).toMatch(/Slow consumer/);

    // The normal reader kept receiving: strictly increasing versions (gaps allowed), the last one current.
    await ingestOne(t, adminKey, ['member_id::live-slow']);
    const last = hub.source(key)!.version;
    await waitUntil('the normal reader to catch up', () => good.results.at(-1)!.data!.profileUpdated.version === hub.source(key)!.version && hub.source(key)!.version >= last);
    expect(good.results.length).toBeGreaterThan(1);
    expect(strictlyIncreasing(versions(good))).toBe(true);
    await normal.dispose();
    await waitUntil('the hub to forget the source', () => hub.source(key) === null);
  }, 120_000);
});
