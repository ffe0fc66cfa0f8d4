import { bootApp, type TestApp } from '../support/app';
import { createReadKey, ingest } from '../support/api';
import { makeEvent } from '../support/events';
import { countStatements } from '../support/sql-count';
import { ProfilePrefetch } from '../../src/modules/profiles';
import { CreateSegmentDocument, CreateTagDocument, TagProfilesDocument } from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(async () => {
  ProfilePrefetch.enabled = true;
  await t.stop();
});

/** The benchmark's profile-360 read (bench/README.md, case 2). */
const BENCH = `query($id:ID!){profile(id:$id){id identifiers{type namespace value} traits{name value} tags{key} segments{key} stage{key enteredAt} health{score tier} events(first:20){edges{node{name timestamp}}}}}`;

/** Every field of the relations a profile read prefetches, so that any difference in a value shows. */
const FULL = `
  fragment Full on Profile {
    id channels eventCount orderCount totalSpend firstSeenAt lastSeenAt lastOrderAt createdAt
    identifiers { type namespace value masked firstSeenAt lastSeenAt }
    traits { name value channel updatedAt }
    tags { key name group kind source addedAt }
    segments { id key name enteredAt }
    stage { key name inactive enteredAt previousStage mainStage }
    health { score tier computedAt components { name label weight value measure contribution } }
    events(first: 20) { edges { cursor node { messageId type name channel timestamp receivedAt properties context traits } } pageInfo { hasNextPage endCursor } }
    few: events(first: 3) { edges { cursor node { messageId timestamp } } pageInfo { hasNextPage endCursor } }
  }`;
/** With a filtered timeline, which is not prefetched (its loader reads it as before). */
const FULL_BY_ID = `query($id: ID!) { profile(id: $id) { ...Full orders: events(first: 5, name: "Order Completed") { edges { cursor node { messageId name } } } } } ${FULL}`;
const FULL_BY_IDENTIFIER = `query($identifier: IdentifierInput!) { profileByIdentifier(identifier: $identifier) { ... on Profile { ...Full } } } ${FULL}`;
const FULL_LIST = `query { profiles(first: 10) { edges { cursor node { ...Full } } pageInfo { hasNextPage endCursor } } } ${FULL}`;

const readKey = (admin: string, pii: boolean) => createReadKey(t, admin, pii);

/** The answer and the statements it took, with the prefetch on or off. */
async function read(prefetch: boolean, query: string, variables: Record<string, unknown>, key: string) {
  ProfilePrefetch.enabled = prefetch;
  try {
    const { result, statements } = await countStatements(() => t.gql(query, variables, key));
    expect(result.errors).toBeUndefined();
    expect(result.status).toBe(200);
    return { data: result.data, statements };
  } finally {
    ProfilePrefetch.enabled = true;
  }
}

describe('profile-360 read with prefetch', () => {
  let admin: string;
  let reader: string;
  let full: string; // A: identifiers, traits, tags, segments, stage, health, 26 events
  let mergedAway: string; // B, merged into A
  let bare: string; // C: one event, no tags

  beforeAll(async () => {
    ({ adminKey: admin } = await t.newWorkspace());
    reader = await readKey(admin, false);
    const ids = ['member_id::PF-A', 'wechat_openid:wx_mp_app:oPF-A'];
    const at = (i: number) => new Date(Date.UTC(2026, 10, 1, 8, 0, 0, 0) + i * 60_000).toISOString();
    full = (await ingest(t, admin, [
      makeEvent({
        identifiers: [...ids, 'phone::13812345678', 'email::Pf.A@Example.com', 'device_id::PF-D2', 'device_id::PF-D1'],
        type: 'identify',
        name: null,
        channel: 'app',
        timestamp: at(0),
        traits: { city: '上海', level: 'gold', address: '上海市浦东新区世纪大道100号' },
      }),
    ])).results[0].profileId!;
    // 25 more events, two of them at the same time (the timeline breaks the tie by message id).
    await ingest(
      t,
      admin,
      Array.from({ length: 25 }, (_, i) =>
        makeEvent({
          identifiers: ids,
          name: i % 4 === 0 ? 'Order Completed' : 'Product Viewed',
          channel: i % 2 ? 'wechat_mp' : 'store',
          timestamp: at(i < 2 ? 1 : i),
          properties: i % 4 === 0 ? { revenue: 100 + i, phone: '13900001111' } : { sku: `S${i}` },
          context: { page: { path: `/p/${i}` } },
        }),
      ),
    );
    mergedAway = (await ingest(t, admin, [makeEvent({ identifiers: ['wechat_unionid:wx_open:PF-B'], timestamp: at(30), traits: { city: '深圳' }, type: 'identify', name: null })])).results[0].profileId!;
    await ingest(t, admin, [makeEvent({ identifiers: ['member_id::PF-A', 'wechat_unionid:wx_open:PF-B'], timestamp: at(31) })]);
    bare = (await ingest(t, admin, [makeEvent({ identifiers: ['member_id::PF-C'], timestamp: at(40) })])).results[0].profileId!;

    expect((await t.gql(CreateTagDocument, { input: { key: 'vip', name: 'VIP', group: '会员', kind: 'MANUAL' } }, admin)).errors).toBeUndefined();
    expect((await t.gql(TagProfilesDocument, { tagKey: 'vip', profileIds: [full] }, admin)).errors).toBeUndefined();
    expect((await t.gql(CreateTagDocument, { input: { key: 'buyer', name: '购买过', kind: 'RULE', expression: 'order_count >= 1' } }, admin)).errors).toBeUndefined();
    expect((await t.gql(CreateSegmentDocument, { input: { key: 'repeat', name: '复购', expression: 'order_count >= 2' } }, admin)).errors).toBeUndefined();
    await t.app.services.kpis.alerts.idle();
  });

  it('answers the benchmark selection in at most two statements, as the loaders alone answer it', async () => {
    for (const id of [full, mergedAway, bare]) {
      const on = await read(true, BENCH, { id }, reader);
      const off = await read(false, BENCH, { id }, reader);
      expect(on.data).toEqual(off.data);
      expect(on.statements.length).toBeLessThanOrEqual(2);
      // The counter sees the loaders' statements: without the prefetch this selection takes many.
      expect(off.statements.length).toBeGreaterThan(5);
    }
    const a = (await read(true, BENCH, { id: full }, reader)).data as { profile: Record<string, unknown[]> & { stage: unknown; health: unknown } };
    // The data really has every relation (identifiers, tags, segments, stage, health, > 20 events).
    expect(a.profile.identifiers.length).toBe(7);
    expect(a.profile.tags.length).toBeGreaterThanOrEqual(2);
    expect(a.profile.segments).toEqual(expect.arrayContaining([{ key: 'repeat' }]));
    expect(a.profile.stage).not.toBeNull();
    expect(a.profile.health).not.toBeNull();
  });

  it('a merged-away id answers the survivor, prefetched', async () => {
    const on = await read(true, BENCH, { id: mergedAway }, reader);
    expect((on.data as { profile: { id: string } }).profile.id).toBe(full);
    expect(on.statements.length).toBe(1);
  });

  it('answers every field of the prefetched relations as the loaders do, masked and unmasked', async () => {
    const piiReader = await readKey(admin, true);
    for (const key of [reader, piiReader, admin]) {
      for (const id of [full, mergedAway, bare]) {
        const on = await read(true, FULL_BY_ID, { id }, key);
        const off = await read(false, FULL_BY_ID, { id }, key);
        expect(on.data).toEqual(off.data);
      }
    }
    const p = (await read(true, FULL_BY_ID, { id: full }, reader)).data as { profile: { events: { edges: unknown[]; pageInfo: { hasNextPage: boolean } } } };
    expect(p.profile.events.edges).toHaveLength(20);
    expect(p.profile.events.pageInfo.hasNextPage).toBe(true);
  });

  it('pages on from a prefetched cursor like from a loaded one', async () => {
    const page = async (prefetch: boolean) => {
      const first = await read(prefetch, FULL_BY_ID, { id: full }, reader);
      const after = (first.data as { profile: { events: { pageInfo: { endCursor: string } } } }).profile.events.pageInfo.endCursor;
      const next = await read(prefetch, `query($id: ID!, $after: String) { profile(id: $id) { events(first: 20, after: $after) { edges { cursor node { messageId } } pageInfo { hasNextPage } } } }`, { id: full, after }, reader);
      return next.data;
    };
    const on = await page(true);
    expect(on).toEqual(await page(false));
    expect((on as { profile: { events: { edges: unknown[] } } }).profile.events.edges).toHaveLength(8);
  });

  it('profileByIdentifier and the profile list read their relations with the profiles too', async () => {
    const identifier = { type: 'wechat_unionid', namespace: 'wx_open', value: 'PF-B' };
    const on = await read(true, FULL_BY_IDENTIFIER, { identifier }, reader);
    const off = await read(false, FULL_BY_IDENTIFIER, { identifier }, reader);
    expect(on.data).toEqual(off.data);
    // One statement; a second when the workspace's identity rules (a cache with a TTL) are reloaded.
    expect(on.statements.length).toBeLessThanOrEqual(2);

    const listOn = await read(true, FULL_LIST, {}, reader);
    const listOff = await read(false, FULL_LIST, {}, reader);
    expect(listOn.data).toEqual(listOff.data);
    // The list page and its relations in one statement.
    expect(listOn.statements.length).toBeLessThanOrEqual(2);
  });

  it('keeps errors and tenant isolation', async () => {
    const other = await t.newWorkspace('other');
    const r = await t.gql(BENCH, { id: full }, other.adminKey);
    expect(r.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'PROFILE_NOT_FOUND' });
    const bad = await t.gql(BENCH, { id: 'not-a-uuid' }, reader);
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_ID' });
    for (const prefetch of [true, false]) {
      ProfilePrefetch.enabled = prefetch;
      const none = await t.gql(`query($i: IdentifierInput!) { profileByIdentifier(identifier: $i) { id tags { key } } }`, { i: { type: 'member_id', value: 'PF-nobody' } }, reader);
      ProfilePrefetch.enabled = true;
      expect(none.errors![0]).toMatchObject({ message: 'No profile holds this identifier.', extensions: { code: 'NOT_FOUND', reason: 'PROFILE_NOT_FOUND' } });
    }
    const size = await t.gql(`query($id:ID!){profile(id:$id){id events(first:0){edges{cursor}}}}`, { id: full }, reader);
    expect(size.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_PAGE_SIZE' });
  });
});
