import { bootAppPerFile } from '../support/app';
import { DAY, ago } from '../support/time';
import { ingest } from '../support/api';
import { idInput, makeEvent } from '../support/events';
import { collect, wsClient } from '../support/ws';
import { systemActor } from '../../src/modules/compliance';
import {
  CreateApiKeyDocument,
  CreateSegmentDocument,
  CreateTagDocument,
  DeleteTagDocument,
  ProfileByIdentifierDocument,
  ProfilesDocument,
  ProfileTagsDocument,
  RunSweepDocument,
  SegmentMembersDocument,
  SegmentMembershipChangedDocument,
  SegmentsDocument,
  SweepStatusDocument,
  TagDistributionDocument,
  TagProfilesDocument,
  TagsDocument,
  UntagProfilesDocument,
  UpdateSegmentDocument,
  UpdateSegmentThresholdsDocument,
  type SegmentMembershipChangedSubscription,
} from '../generated/graphql';

const t = bootAppPerFile();

async function profileOf(key: string, id: string) {
  const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput(id) }, key);
  return r.data!.profileByIdentifier.id;
}
async function tagsAndSegments(key: string, pid: string) {
  const r = await t.gql(ProfileTagsDocument, { id: pid }, key);
  // Lifecycle stage and health tier are system tags of other modules; these tests look at the rest.
  const own = r.data!.profile.tags.filter((x) => !/^(stage|health):/.test(x.key));
  return { tags: own.map((x) => x.key).sort(), segments: r.data!.profile.segments.map((x) => x.key).sort() };
}

describe('default segments (用户分层)', () => {
  it('exist in every workspace with their definitions', async () => {
    const { adminKey } = await t.newWorkspace();
    const r = await t.gql(SegmentsDocument, {}, adminKey);
    const byKey = Object.fromEntries(r.data!.segments.map((s) => [s.key, s]));
    expect(Object.keys(byKey).sort()).toEqual(['churn_risk', 'churned', 'high_value', 'new', 'potential', 'silent']);
    expect(byKey.high_value).toMatchObject({ name: '高价值', isDefault: true, expression: 'total_spend >= 2000 and last_seen_days <= 90' });
    expect(byKey.silent.name).toBe('沉默');
  });

  it('an order that crosses the threshold moves a person into 高价值 in the same commit, and a subscriber hears it', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const hv = (await t.gql(SegmentsDocument, {}, key)).data!.segments.find((s) => s.key === 'high_value')!;
    await ingest(t, key, [makeEvent({ identifiers: ['member_id::VIP1'], name: 'Order Completed', properties: { revenue: 1500 }, timestamp: ago(2) })]);
    const pid = await profileOf(key, 'member_id::VIP1');
    expect((await tagsAndSegments(key, pid)).segments).toEqual(['new']);

    const ws = wsClient(t.url, key);
    await ws.connected;
    const sub = collect<SegmentMembershipChangedSubscription>(ws.client, SegmentMembershipChangedDocument, { segmentId: hv.id });
    // The subscription registers asynchronously: bring probe people into the segment until one is heard.
    for (let n = 0; sub.results.length === 0 && n < 50; n++) {
      await ingest(t, key, [makeEvent({ identifiers: [`member_id::probe-${n}`], name: 'Order Completed', properties: { revenue: 3000 } })]);
      await sub.next(1, 150).catch(() => undefined);
    }
    const heard = sub.results.length;
    const res = await ingest(t, key, [makeEvent({ identifiers: ['member_id::VIP1'], name: 'Order Completed', properties: { revenue: 600 }, timestamp: ago(1) })]);
    // Committed and visible as soon as the mutation answers.
    expect((await tagsAndSegments(key, pid)).segments).toEqual(['high_value', 'new']);
    const all = await sub.next(heard + 1);
    expect(all[heard].data!.segmentMembershipChanged).toMatchObject({ segmentId: hv.id, profileId: pid, change: 'ENTERED', cause: `event:${res.results[0].messageId}` });
    await ws.dispose();

    const members = await t.gql(SegmentMembersDocument, { id: hv.id, first: 10 }, key);
    expect(members.data!.segment.size).toBe(heard + 1);
    expect(members.data!.segment.members.edges.map((e) => e.node.id)).toContain(pid);
  });

  it('thresholds are workspace settings; changing them recomputes membership', async () => {
    const { adminKey: key } = await t.newWorkspace();
    await ingest(t, key, [makeEvent({ identifiers: ['member_id::T1'], name: 'Order Completed', properties: { revenue: 800 }, timestamp: ago(3) })]);
    const pid = await profileOf(key, 'member_id::T1');
    expect((await tagsAndSegments(key, pid)).segments).not.toContain('high_value');
    const r = await t.gql(UpdateSegmentThresholdsDocument, { input: { highValueSpend: 500 } }, key);
    expect(r.data!.updateSegmentThresholds.highValueSpend).toBe(500);
    expect((await tagsAndSegments(key, pid)).segments).toContain('high_value');
    const bad = await t.gql(UpdateSegmentThresholdsDocument, { input: { silentDays: 200 } }, key);
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_THRESHOLDS' });
  });
});

describe('rule tags', () => {
  it('are computed at creation and kept current on ingest', async () => {
    const { adminKey: key } = await t.newWorkspace();
    await ingest(t, key, [
      makeEvent({ identifiers: ['member_id::R1'], channel: 'wecom', type: 'identify', name: null, traits: { city: '上海' } }),
      makeEvent({ identifiers: ['member_id::R2'], channel: 'web', type: 'identify', name: null, traits: { city: '上海' } }),
    ]);
    const c = await t.gql(CreateTagDocument, { input: { key: 'sh_private', name: '上海私域', group: '地域', kind: 'RULE', expression: 'channel in ("wecom", "wechat_mp") and traits.city == "上海"' } }, key);
    expect(c.errors).toBeUndefined();
    expect(c.data!.createTag).toMatchObject({ kind: 'RULE', size: 1, timeDependent: false });
    const r1 = await profileOf(key, 'member_id::R1');
    expect((await tagsAndSegments(key, r1)).tags).toContain('sh_private');

    await t.gql(CreateTagDocument, { input: { key: 'browsing', name: '浏览未购', kind: 'RULE', expression: 'count(event = "Product Viewed", within = "7d") >= 3 and not count(event = "Order Completed", within = "7d")' } }, key);
    const views = Array.from({ length: 3 }, () => makeEvent({ identifiers: ['member_id::R2'], name: 'Product Viewed', timestamp: ago(1) }));
    await ingest(t, key, views);
    const r2 = await profileOf(key, 'member_id::R2');
    expect((await tagsAndSegments(key, r2)).tags).toContain('browsing');
    await ingest(t, key, [makeEvent({ identifiers: ['member_id::R2'], name: 'Order Completed', properties: { revenue: 5 }, timestamp: ago(0) })]);
    expect((await tagsAndSegments(key, r2)).tags).not.toContain('browsing');
  });

  it('bad rules get a precise error and nothing is written', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const tryTag = (expression: string) => t.gql(CreateTagDocument, { input: { key: 'x', name: 'x', kind: 'RULE', expression } }, key);
    const e1 = await tryTag('total_spend >= ');
    expect(e1.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'EXPRESSION_INVALID' });
    expect(e1.errors![0].message).toMatch(/at 1:\d+/);
    const e2 = await tryTag('totl_spend > 5');
    expect(e2.errors![0].message).toMatch(/total_spend/);
    const e3 = await tryTag('has_tag("nope")');
    expect(e3.errors![0].extensions).toMatchObject({ reason: 'UNKNOWN_TAG' });
    const e4 = await t.gql(CreateTagDocument, { input: { key: 'bad key!', name: 'x', kind: 'MANUAL' } }, key);
    expect(e4.errors![0].extensions).toMatchObject({ reason: 'INVALID_TAG_KEY' });
    expect((await t.gql(TagsDocument, {}, key)).data!.tags).toEqual([]);
  });

  it('a segment may not refer to itself', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const s = await t.gql(CreateSegmentDocument, { input: { key: 'loyal', name: '忠诚', expression: 'order_count >= 2' } }, key);
    const u = await t.gql(UpdateSegmentDocument, { id: s.data!.createSegment.id, input: { expression: 'in_segment("loyal") or order_count >= 3' } }, key);
    expect(u.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'SEGMENT_SELF_REFERENCE' });
    const ok = await t.gql(CreateSegmentDocument, { input: { key: 'loyal_sh', name: '上海忠诚', expression: 'in_segment("loyal") and traits.city == "上海"' } }, key);
    expect(ok.errors).toBeUndefined();
  });
});

describe('manual tags', () => {
  it('tag and untag in bulk, via ingest traits.tags, all or nothing', async () => {
    const { adminKey: key } = await t.newWorkspace();
    await t.gql(CreateTagDocument, { input: { key: 'kol', name: '达人', group: '身份', kind: 'MANUAL' } }, key);
    await ingest(t, key, [makeEvent({ identifiers: ['member_id::K1'] }), makeEvent({ identifiers: ['member_id::K2'] })]);
    const [k1, k2] = [await profileOf(key, 'member_id::K1'), await profileOf(key, 'member_id::K2')];
    expect((await t.gql(TagProfilesDocument, { tagKey: 'kol', profileIds: [k1, k2] }, key)).data!.tagProfiles).toBe(2);
    expect((await t.gql(TagsDocument, { group: '身份' }, key)).data!.tags[0]).toMatchObject({ key: 'kol', size: 2 });
    expect((await t.gql(UntagProfilesDocument, { tagKey: 'kol', profileIds: [k2] }, key)).data!.untagProfiles).toBe(1);

    const missing = await t.gql(TagProfilesDocument, { tagKey: 'kol', profileIds: [k2, '00000000-0000-4000-8000-000000000000'] }, key);
    expect(missing.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'PROFILES_NOT_FOUND' });
    expect((await tagsAndSegments(key, k2)).tags).not.toContain('kol');
    const tooMany = await t.gql(TagProfilesDocument, { tagKey: 'kol', profileIds: Array.from({ length: 10_001 }, () => k1) }, key);
    expect(tooMany.errors![0].extensions).toMatchObject({ reason: 'TOO_MANY_PROFILES' });
    const unknownTag = await t.gql(TagProfilesDocument, { tagKey: 'nope', profileIds: [k1] }, key);
    expect(unknownTag.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'TAG_NOT_FOUND' });

    const r = await ingest(t, key, [
      makeEvent({ identifiers: ['member_id::K3'], type: 'identify', name: null, traits: { tags: ['kol'], city: '杭州' } }),
      makeEvent({ identifiers: ['member_id::K4'], type: 'identify', name: null, traits: { tags: ['unknown-tag'] } }),
    ], { rejected: 1 });
    expect(r.results[1]).toMatchObject({ status: 'REJECTED', error: { reason: 'UNKNOWN_TAG', field: 'traits.tags.0' } });
    const k3 = await profileOf(key, 'member_id::K3');
    const p3 = await t.gql(ProfileTagsDocument, { id: k3 }, key);
    expect(p3.data!.profile.tags.filter((x) => x.kind === 'MANUAL')).toEqual([expect.objectContaining({ key: 'kol', kind: 'MANUAL', source: 'ingest' })]);
    expect((await t.gql(ProfileByIdentifierDocument, { identifier: idInput('member_id::K3') }, key)).data!.profileByIdentifier.traits.map((x) => x.name)).toEqual(['city']);

    const filtered = await t.gql(ProfilesDocument, { filter: { tags: ['kol'] }, first: 10 }, key);
    expect(filtered.data!.profiles.edges.map((e) => e.node.id).sort()).toEqual([k1, k3].sort());
    const del = await t.gql(DeleteTagDocument, { key: 'kol' }, key);
    expect(del.data!.deleteTag).toBe(true);
    expect((await tagsAndSegments(key, k1)).tags).toEqual([]);
  });

  it('tag distribution by channel, for analysts, without personal data', async () => {
    const { adminKey: key } = await t.newWorkspace();
    await t.gql(CreateTagDocument, { input: { key: 'gold', name: '金卡', group: '会员等级', kind: 'MANUAL' } }, key);
    await ingest(t, key, [
      makeEvent({ identifiers: ['member_id::D1'], channel: 'wecom', type: 'identify', name: null, traits: { tags: ['gold'] } }),
      makeEvent({ identifiers: ['member_id::D1'], channel: 'app' }),
      makeEvent({ identifiers: ['member_id::D2'], channel: 'wecom', type: 'identify', name: null, traits: { tags: ['gold'] } }),
    ]);
    const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'bi' } }, key);
    const r = await t.gql(TagDistributionDocument, { tagGroup: '会员等级' }, data!.createApiKey.key);
    expect(r.errors).toBeUndefined();
    expect(r.data!.tagDistribution).toEqual([
      { tagKey: 'gold', tagName: '金卡', total: 2, breakdown: expect.arrayContaining([{ key: 'wecom', count: 2 }, { key: 'app', count: 1 }]) },
    ]);
  });
});

describe('the time-based sweep', () => {
  it('moves people who went quiet into 沉默 without new events, in bounded steps with visible progress, and assigns RFM cells', async () => {
    const { workspaceId, adminKey: key } = await t.newWorkspace();
    await ingest(t, key, [
      ...Array.from({ length: 12 }, (_, i) => makeEvent({ identifiers: [`member_id::S${i}`], name: 'Order Completed', properties: { revenue: 10 * (i + 1) }, timestamp: ago(25) })),
    ]);
    const silent = (await t.gql(SegmentsDocument, {}, key)).data!.segments.find((s) => s.key === 'silent')!;
    expect(silent.size).toBe(0);

    // Ten days later, nobody has come back: the sweep finds them silent (25 + 10 > 30 days).
    const later = new Date(Date.now() + 10 * DAY);
    const step1 = await t.app.services.tags.sweepStep(workspaceId, 5, later);
    expect(step1).toMatchObject({ profilesDone: 5, profilesTotal: 12 });
    expect(step1.passStartedAt).not.toBeNull();
    await t.app.services.tags.sweepStep(workspaceId, 5, later);
    const step3 = await t.app.services.tags.sweepStep(workspaceId, 5, later);
    expect(step3.lastPassAt).not.toBeNull();
    expect((await t.gql(SegmentsDocument, {}, key)).data!.segments.find((s) => s.key === 'silent')!.size).toBe(12);
    const status = await t.gql(SweepStatusDocument, {}, key);
    expect(status.data!.sweepStatus.changes).toBeGreaterThanOrEqual(12);

    // RFM cells: the biggest spender is in the top monetary quintile.
    const top = await profileOf(key, 'member_id::S11');
    expect((await tagsAndSegments(key, top)).tags.find((k) => k.startsWith('rfm:'))).toMatch(/^rfm:\d\d5$/);
    const run = await t.gql(RunSweepDocument, { maxProfiles: 100 }, key);
    expect(run.data!.runSweep.profilesTotal).toBe(12);
  });
});

describe('segment export and history', () => {
  it('streams members as NDJSON with chosen identifiers (masked without PII scope) and records who entered when and why', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    // Nobody here answered a consent question: export them all (compliance.test.ts tests the consent filter).
    await t.app.services.compliance.updateSettings(systemActor(ws), { consentPolicy: 'allow_unless_denied' });
    await ingest(t, key, [
      makeEvent({ identifiers: ['member_id::E1', 'phone::13811112222', 'wechat_openid:wx_mp_app:oE1'], name: 'Order Completed', properties: { revenue: 5000 } }),
      makeEvent({ identifiers: ['member_id::E2'], name: 'Order Completed', properties: { revenue: 3000 } }),
      makeEvent({ identifiers: ['member_id::E3'] }),
    ]);
    const hv = (await t.gql(SegmentsDocument, {}, key)).data!.segments.find((s) => s.key === 'high_value')!;
    const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'crm' } }, key);
    const res = await t.http().get(`/export/segments/${hv.id}?identifiers=phone,wechat_openid`).set('authorization', `Bearer ${data!.createApiKey.key}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/x-ndjson');
    const lines = res.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    const e1 = lines.find((l) => l.identifiers.length === 2);
    expect(e1.identifiers).toEqual(
      expect.arrayContaining([
        { type: 'phone', namespace: null, value: '138****2222', masked: true },
        { type: 'wechat_openid', namespace: 'wx_mp_app', value: 'oE1', masked: false },
      ]),
    );
    const bad = await t.http().get(`/export/segments/${hv.id}?identifiers=qq`).set('authorization', `Bearer ${key}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].extensions.reason).toBe('UNKNOWN_IDENTIFIER_TYPE');
    const { data: an } = await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'bi' } }, key);
    expect((await t.http().get(`/export/segments/${hv.id}`).set('authorization', `Bearer ${an!.createApiKey.key}`)).status).toBe(403);

    const history = await t.gql<{ segment: { changes: { profileId: string; change: string; cause: string }[] } }>(
      `query($id: ID!) { segment(id: $id) { changes(last: 10) { profileId change cause } } }`,
      { id: hv.id },
      key,
    );
    expect(history.data!.segment.changes).toHaveLength(2);
    expect(history.data!.segment.changes.every((c) => c.change === 'ENTERED' && c.cause.startsWith('event:'))).toBe(true);
  });
});
