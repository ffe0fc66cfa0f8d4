import { bootApp, type TestApp } from '../support/app';
import { createReadKey, ingest } from '../support/api';
import { idInput, makeEvent } from '../support/events';
import {
  IngestDocument,
  ProfileByIdentifierDocument,
  ProfileDocument,
  ProfileEventsDocument,
  ProfileSocialDocument,
  ProfilesDocument,
} from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

const readKey = (admin: string, pii: boolean) => createReadKey(t, admin, pii);

describe('the 360° profile', () => {
  it('aggregates channels, orders, spend and traits (last write wins by event time)', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const ids = ['member_id::P1', 'wechat_openid:wx_mp_app:oP1'];
    await ingest(t, key, [
      makeEvent({ identifiers: ids, type: 'identify', name: null, channel: 'wechat_mp', timestamp: '2026-11-02T10:00:00Z', traits: { city: '上海', level: 'gold' } }),
      makeEvent({ identifiers: ids, type: 'identify', name: null, channel: 'app', timestamp: '2026-11-01T10:00:00Z', traits: { city: '北京', gender: 'f' } }),
      makeEvent({ identifiers: ids, name: 'Order Completed', channel: 'store', timestamp: '2026-11-03T10:00:00Z', properties: { revenue: 199.5 } }),
      makeEvent({ identifiers: ids, name: 'Order Completed', channel: 'wechat_mp', timestamp: '2026-11-04T10:00:00Z', properties: { total: '100.25' } }),
    ]);
    const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput('member_id::P1') }, key);
    const p = r.data!.profileByIdentifier;
    expect(p).toMatchObject({ eventCount: 4, orderCount: 2, totalSpend: 299.75, firstSeenAt: '2026-11-01T10:00:00.000Z', lastSeenAt: '2026-11-04T10:00:00.000Z' });
    expect([...p.channels].sort()).toEqual(['app', 'store', 'wechat_mp']);
    const traits = Object.fromEntries(p.traits.map((x) => [x.name, [x.value, x.channel]]));
    // The later identify (Nov 2) wins for city even though it arrived first.
    expect(traits).toEqual({ city: ['上海', 'wechat_mp'], level: ['gold', 'wechat_mp'], gender: ['f', 'app'] });
  });

  it('masks phone and e-mail unless the key has the PII scope', async () => {
    const { adminKey: key } = await t.newWorkspace();
    await ingest(t, key, [makeEvent({ identifiers: ['member_id::PII1', 'phone::13812345678', 'email::Li.Lei@Example.com'] })]);
    const show = async (k: string) => {
      const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput('phone::138 1234 5678') }, k);
      return Object.fromEntries(r.data!.profileByIdentifier.identifiers.map((i) => [i.type, [i.value, i.masked]]));
    };
    expect(await show(await readKey(key, false))).toEqual({ member_id: ['PII1', false], phone: ['138****5678', true], email: ['l***@example.com', true] });
    expect(await show(await readKey(key, true))).toMatchObject({ phone: ['+8613812345678', false], email: ['li.lei@example.com', false] });
    expect(await show(key)).toMatchObject({ phone: ['+8613812345678', false] });
    // At rest: no plaintext phone or e-mail anywhere in the identifier or event rows.
    const rows = await t.app.db.dataSource.query(`SELECT i.*, e.identifier_keys FROM identifiers i JOIN events e ON e.profile_id = i.profile_id WHERE i.type IN ('phone','email')`);
    expect(JSON.stringify(rows)).not.toMatch(/13812345678|li\.lei/i);
  });

  it('pages the timeline newest first and filters by name', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const events = Array.from({ length: 7 }, (_, i) =>
      makeEvent({ identifiers: ['member_id::T1'], name: i % 2 ? 'Product Viewed' : 'Message Sent', timestamp: `2026-11-0${i + 1}T00:00:00Z` }),
    );
    const { results: [{ profileId }] } = await ingest(t, key, events);
    const p1 = await t.gql(ProfileEventsDocument, { id: profileId!, first: 3 }, key);
    const page1 = p1.data!.profile.events;
    expect(page1.edges.map((e) => e.node.timestamp)).toEqual(['2026-11-07T00:00:00.000Z', '2026-11-06T00:00:00.000Z', '2026-11-05T00:00:00.000Z']);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const p2 = await t.gql(ProfileEventsDocument, { id: profileId!, first: 10, after: page1.pageInfo.endCursor }, key);
    expect(p2.data!.profile.events.edges).toHaveLength(4);
    expect(p2.data!.profile.events.pageInfo.hasNextPage).toBe(false);
    const viewed = await t.gql(ProfileEventsDocument, { id: profileId!, first: 10, name: 'Product Viewed' }, key);
    expect(viewed.data!.profile.events.edges).toHaveLength(3);
    const bad = await t.gql(ProfileEventsDocument, { id: profileId!, first: 10, after: 'not-a-cursor' }, key);
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_CURSOR' });
  });

  it('builds the social graph: invites, shares, group buys, distributors and WeCom staff', async () => {
    const { adminKey: key } = await t.newWorkspace();
    await ingest(t, key, [makeEvent({ identifiers: ['member_id::INV'] })]);
    await ingest(t, key, [
      makeEvent({ identifiers: ['member_id::NEW1'], name: 'Invite Accepted', properties: { inviter: { type: 'member_id', value: 'INV' } } }),
      makeEvent({ identifiers: ['member_id::NEW2'], name: 'Invite Accepted', properties: { inviter: { type: 'member_id', value: 'INV' } } }),
      makeEvent({ identifiers: ['member_id::NEW3'], name: 'Page Viewed', type: 'page', context: { sharedBy: { type: 'member_id', value: 'NEW1' } } }),
      makeEvent({ identifiers: ['member_id::NEW3'], channel: 'wecom', name: 'Message Sent', context: { staff: 'zhangsan' } }),
      makeEvent({ identifiers: ['member_id::NEW2'], name: 'Group Buy Joined', properties: { groupBuyInitiator: { type: 'member_id', value: 'NEW1' } } }),
    ]);
    const id = async (m: string) => (await t.gql(ProfileByIdentifierDocument, { identifier: idInput(`member_id::${m}`) }, key)).data!.profileByIdentifier.id;
    const [inv, n1, n2, n3] = [await id('INV'), await id('NEW1'), await id('NEW2'), await id('NEW3')];
    const social = async (pid: string) => (await t.gql(ProfileSocialDocument, { id: pid }, key)).data!.profile;
    const a = await social(inv);
    expect(a.invitedBy).toBeNull();
    expect(a.invitees.map((x) => x.id).sort()).toEqual([n1, n2].sort());
    expect((await social(n1)).invitedBy).toEqual({ id: inv });
    const r3 = (await social(n3)).relations;
    expect(r3).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'SHARED_TO', direction: 'INCOMING', otherProfileId: n1 }),
        expect.objectContaining({ kind: 'SERVED_BY', direction: 'INCOMING', staffId: 'zhangsan', otherProfileId: null }),
      ]),
    );
    expect((await social(n2)).relations).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'GROUP_BUY_WITH', otherProfileId: n1 })]));
  });

  it('an inviter known only from the invite gets a profile of their own', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const { results: [{ profileId }] } = await ingest(t, key, [
      makeEvent({ identifiers: ['member_id::I2'], name: 'Invite Accepted', properties: { inviter: { type: 'wechat_openid', namespace: 'wx_mp_app', value: 'oInviter' } } }),
    ]);
    const inviter = await t.gql(ProfileByIdentifierDocument, { identifier: idInput('wechat_openid:wx_mp_app:oInviter') }, key);
    expect(inviter.data!.profileByIdentifier.eventCount).toBe(0);
    expect((await t.gql(ProfileSocialDocument, { id: profileId! }, key)).data!.profile.invitedBy).toEqual({ id: inviter.data!.profileByIdentifier.id });
  });

  it('filters the profile list by channel, trait and time, with cursors', async () => {
    const { adminKey: key } = await t.newWorkspace();
    await ingest(t, key, [
      ...Array.from({ length: 5 }, (_, i) => makeEvent({ identifiers: [`member_id::F${i}`], channel: 'douyin', type: 'identify', name: null, traits: { city: i < 3 ? '上海' : '杭州' }, timestamp: `2026-10-0${i + 1}T00:00:00Z` })),
      makeEvent({ identifiers: ['member_id::F9'], channel: 'store' }),
    ]);
    const list = async (filter: object, first = 10, after: string | null = null) => (await t.gql(ProfilesDocument, { filter, first, after }, key)).data!.profiles;
    expect((await list({ channel: 'douyin' })).edges).toHaveLength(5);
    expect((await list({ channel: 'douyin', traits: [{ name: 'city', equals: '上海' }] })).edges).toHaveLength(3);
    expect((await list({ firstSeenFrom: '2026-10-03T00:00:00Z', firstSeenTo: '2026-10-05T00:00:00Z' })).edges).toHaveLength(2);
    const p1 = await list({ channel: 'douyin' }, 2);
    const p2 = await list({ channel: 'douyin' }, 2, p1.pageInfo.endCursor);
    const p3 = await list({ channel: 'douyin' }, 2, p2.pageInfo.endCursor);
    const all = [...p1.edges, ...p2.edges, ...p3.edges].map((e) => e.node.id);
    expect(new Set(all).size).toBe(5);
    expect(p3.pageInfo.hasNextPage).toBe(false);
    const bad = await t.gql(ProfilesDocument, { filter: { channel: 'myspace' }, first: 10 }, key);
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UNKNOWN_CHANNEL' });
  });

  it('answers NOT_FOUND for another workspace\'s profile and for unknown identifiers', async () => {
    const a = await t.newWorkspace('A');
    const b = await t.newWorkspace('B');
    const { results: [{ profileId }] } = await ingest(t, a.adminKey, [makeEvent({ identifiers: ['member_id::ISO'] })]);
    const r = await t.gql(ProfileDocument, { id: profileId! }, b.adminKey);
    expect(r.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'PROFILE_NOT_FOUND' });
    const r2 = await t.gql(ProfileByIdentifierDocument, { identifier: idInput('member_id::ISO') }, b.adminKey);
    expect(r2.errors![0].extensions.code).toBe('NOT_FOUND');
    const r3 = await t.gql(ProfileDocument, { id: 'not-a-uuid' }, a.adminKey);
    expect(r3.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_ID' });
  });
});

describe('DataLoader batching', () => {
  it('fetching 50 profiles with identifiers, traits and relations issues as many SQL statements as fetching 2', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const events = Array.from({ length: 50 }, (_, i) =>
      makeEvent({
        identifiers: [`member_id::L${i}`, `device_id::LD${i}`],
        name: 'Invite Accepted',
        traits: { n: i },
        properties: { inviter: { type: 'member_id', value: `L${(i + 1) % 50}` } },
      }),
    );
    await ingest(t, key, events);
    // Background work the ingest scheduled (alert rule evaluation) must not be counted.
    await t.app.services.kpis.alerts.idle();
    const em = t.app.db.dataSource.manager;
    const original = em.query.bind(em);
    let statements = 0;
    em.query = ((q: string, p?: unknown[]) => {
      statements++;
      return original(q, p);
    }) as typeof em.query;
    try {
      const count = async (first: number) => {
        statements = 0;
        const r = await t.gql(ProfilesDocument, { first }, key);
        expect(r.errors).toBeUndefined();
        expect(r.data!.profiles.edges.length).toBe(first);
        expect(r.data!.profiles.edges.every((e) => e.node.identifiers.length > 0 && e.node.invitedBy)).toBe(true);
        return statements;
      };
      const two = await count(2);
      const fifty = await count(50);
      expect(fifty).toBe(two);
      expect(two).toBeLessThanOrEqual(4);
    } finally {
      em.query = original;
    }
  });
});

describe('phone and e-mail sent as traits', () => {
  it('become encrypted, masked identifiers and never plain traits', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const r = await t.gql(IngestDocument, {
      events: [
        makeEvent({ identifiers: ['member_id::TR1'], type: 'identify', name: null, traits: { phone: '13955556666', email: 'Wang@Example.com', city: '成都' } }),
        makeEvent({ identifiers: ['member_id::TR2'], type: 'identify', name: null, traits: { phone: 'not-a-phone' } }),
      ],
    }, key);
    expect(r.data!.ingestEvents.results[1]).toMatchObject({ status: 'REJECTED', error: { reason: 'INVALID_PHONE', field: 'traits.phone' } });
    const reader = await readKey(key, false);
    const p = (await t.gql(ProfileByIdentifierDocument, { identifier: idInput('phone::13955556666') }, reader)).data!.profileByIdentifier;
    expect(p.traits.map((x) => x.name)).toEqual(['city']);
    expect(p.identifiers.find((i) => i.type === 'phone')).toMatchObject({ value: '139****6666', masked: true });
    expect(JSON.stringify(await t.app.db.dataSource.query(`SELECT traits FROM events WHERE message_id = $1`, [r.data!.ingestEvents.results[0].messageId]))).not.toMatch(/13955556666|wang@/i);
  });
});
