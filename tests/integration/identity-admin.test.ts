import { ingest, ingestOne } from '../support/api';
import { bootApp, type TestApp } from '../support/app';
import { idInput, makeEvent } from '../support/events';
import {
  ClearMergeExclusionDocument,
  CreateApiKeyDocument,
  IdentityRulesDocument,
  ProfileByIdentifierDocument,
  ProfileDocument,
  UnmergeDocument,
  UpdateIdentityRulesDocument,
} from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

const holder = async (key: string, id: string) => (await t.gql(ProfileByIdentifierDocument, { identifier: idInput(id) }, key)).data?.profileByIdentifier;

describe('unmerge', () => {
  it('restores traits and orders of both people, keeps them apart, and can be cleared', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const p1 = await ingestOne(t, key, ['member_id::U-M1'], { name: 'Order Completed', properties: { revenue: 10 }, timestamp: '2026-11-01T00:00:00Z' });
    const p2 = await ingestOne(t, key, ['wechat_unionid:wx_open:U-U1'], { type: 'identify', name: null, traits: { city: '深圳' }, timestamp: '2026-11-02T00:00:00Z' });
    await ingestOne(t, key, ['member_id::U-M1', 'wechat_unionid:wx_open:U-U1'], { timestamp: '2026-11-03T00:00:00Z' });
    const merged = (await t.gql(ProfileDocument, { id: p2 }, key)).data!.profile;
    expect(merged.id).toBe(p1);
    expect(merged).toMatchObject({ orderCount: 1, eventCount: 3 });
    const m = merged.mergeHistory[0];
    expect(m).toMatchObject({ survivorId: p1, mergedId: p2, linkedBy: expect.arrayContaining([{ type: 'member_id', namespace: null }]) });
    expect(m.rule).toMatch(/oldest profile survives/);

    const u = await t.gql(UnmergeDocument, { mergeId: m.id }, key);
    expect(u.data!.unmergeProfiles).toMatchObject({ survivor: { id: p1 }, restored: { id: p2 } });
    expect(u.data!.unmergeProfiles.merge.undoneAt).not.toBeNull();
    const a = (await t.gql(ProfileDocument, { id: p1 }, key)).data!.profile;
    const b = (await t.gql(ProfileDocument, { id: p2 }, key)).data!.profile;
    expect(a).toMatchObject({ orderCount: 1, eventCount: 2, traits: [] });
    expect(b).toMatchObject({ orderCount: 0, eventCount: 1, traits: [expect.objectContaining({ name: 'city', value: '深圳' })] });

    // Both people are re-derived by the other read models too: stage, health and their system tags.
    const derived = await t.gql<{ profile: { stage: { key: string } | null; health: { score: number } | null; tags: { key: string }[] } }>(
      `query($id: ID!) { profile(id: $id) { stage { key } health { score } tags { key } } }`,
      { id: p2 },
      key,
    );
    expect(derived.errors).toBeUndefined();
    expect(derived.data!.profile.stage).not.toBeNull();
    expect(derived.data!.profile.health).not.toBeNull();
    expect(derived.data!.profile.tags.map((x) => x.key)).toEqual(expect.arrayContaining([`stage:${derived.data!.profile.stage!.key}`]));

    const again = await t.gql(UnmergeDocument, { mergeId: m.id }, key);
    expect(again.errors![0].extensions).toMatchObject({ code: 'CONFLICT', reason: 'MERGE_ALREADY_UNDONE' });

    // Kept apart, with a conflict explaining why; after clearing the exclusion they merge again.
    await ingestOne(t, key, ['member_id::U-M1', 'wechat_unionid:wx_open:U-U1']);
    expect((await holder(key, 'wechat_unionid:wx_open:U-U1'))!.id).toBe(p2);
    expect((await t.gql(ProfileDocument, { id: p1 }, key)).data!.profile.conflicts.map((c) => c.rule)).toContain('UNMERGED_PAIR');
    expect((await t.gql(ClearMergeExclusionDocument, { mergeId: m.id }, key)).data!.clearMergeExclusion).toBe(true);
    await ingestOne(t, key, ['member_id::U-M1', 'wechat_unionid:wx_open:U-U1']);
    expect((await holder(key, 'wechat_unionid:wx_open:U-U1'))!.id).toBe(p1);
  });

  it('is ADMIN only, and unknown merges are NOT_FOUND', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'r', pii: true } }, key);
    const r = await t.gql(UnmergeDocument, { mergeId: '00000000-0000-0000-0000-000000000000' }, data!.createApiKey.key);
    expect(r.errors![0].extensions.code).toBe('FORBIDDEN');
    const n = await t.gql(UnmergeDocument, { mergeId: '00000000-0000-0000-0000-000000000000' }, key);
    expect(n.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'MERGE_NOT_FOUND' });
  });
});

describe('identity rules', () => {
  it('are readable and editable by admins, and change resolution from then on', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const current = (await t.gql(IdentityRulesDocument, {}, key)).data!.identityRules;
    expect(current.types[0]).toMatchObject({ type: 'member_id', priority: 1, maxPerProfile: 1, namespaced: false });
    expect(current.types.find((x) => x.type === 'wechat_openid')).toMatchObject({ namespaced: true, maxPerProfile: 1 });

    const types = current.types.map(({ type, priority, maxPerProfile }) => ({ type, priority, maxPerProfile: type === 'device_id' ? 1 : maxPerProfile }));
    const up = await t.gql(UpdateIdentityRulesDocument, { input: { types, blockedValues: [...current.blockedValues, 'test'], blockedPatterns: ['^0+$'] } }, key);
    expect(up.errors).toBeUndefined();

    const r = await ingest(t, key, [makeEvent({ identifiers: ['member_id::R1', 'device_id::000', 'device_id::TEST', 'device_id::DA', 'device_id::DB'] })]);
    expect(r.results[0].droppedIdentifiers).toBe(2);
    const p = await holder(key, 'member_id::R1');
    expect(p!.identifiers.filter((i) => i.type === 'device_id')).toHaveLength(1);
  });

  it('rejects an invalid rule set naming every field, and keeps the old one', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const current = (await t.gql(IdentityRulesDocument, {}, key)).data!.identityRules;
    const types = current.types.map(({ type, priority, maxPerProfile }) => ({ type, priority, maxPerProfile }));
    types[1] = { ...types[1], priority: 1 };
    types[2] = { ...types[2], maxPerProfile: 0 };
    const r = await t.gql(UpdateIdentityRulesDocument, { input: { types: types.slice(0, -1), blockedValues: [], blockedPatterns: ['(unclosed'] } }, key);
    expect(r.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_IDENTITY_RULES' });
    const fields = (r.errors![0].extensions.fields as { field: string }[]).map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['types.1.priority', 'types.2.maxPerProfile', 'types', 'blockedPatterns.0']));
    expect((await t.gql(IdentityRulesDocument, {}, key)).data!.identityRules).toEqual(current);
  });
});
