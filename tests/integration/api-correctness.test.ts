import { randomUUID } from 'node:crypto';
import type { GraphQLFormattedError } from 'graphql';
import { ingest, ingestOne } from '../support/api';
import { bootAppPerFile } from '../support/app';
import { makeEvent } from '../support/events';
import { wsClient } from '../support/ws';
import {
  CreateApiKeyDocument,
  CreateJourneyDocument,
  ProfileDocument,
  UnmergeDocument,
} from '../generated/graphql';

const t = bootAppPerFile();

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

const JOURNEY_VETOES = `query ($id: ID!) {
  journey(id: $id) {
    stats { entered triggered vetoed }
    vetoedTriggers(first: 10) { journeyId profileId stepKey entryNo at reason }
  }
}`;
interface JourneyVetoes {
  journey: {
    stats: { entered: number; triggered: number; vetoed: number };
    vetoedTriggers: { journeyId: string; profileId: string; stepKey: string; entryNo: number; at: string; reason: string }[];
  };
}

describe('held-back journey triggers are visible', () => {
  it('a trigger vetoed for lack of marketing consent shows in stats.vetoed and vetoedTriggers, with its reason', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const j = await t.gql(CreateJourneyDocument, { input: { name: '下单', steps: [{ key: 'bought', name: '下单', match: { event: 'Order Completed' }, trigger: true }] } }, key);
    expect(j.errors).toBeUndefined();
    const id = j.data!.createJourney.id;
    const yes = `member_id::${randomUUID()}`;
    const no = `member_id::${randomUUID()}`;
    const r = await ingest(t, key, [
      makeEvent({ identifiers: [yes], name: 'Consent Updated', properties: { purpose: 'marketing', state: 'granted', policyVersion: 'v1' }, timestamp: '2026-11-01T08:00:00Z' }),
      makeEvent({ identifiers: [yes], name: 'Order Completed', properties: { revenue: 10 }, timestamp: '2026-11-01T08:00:01Z' }),
      makeEvent({ identifiers: [no], name: 'Order Completed', properties: { revenue: 10 }, timestamp: '2026-11-01T08:00:02Z' }),
    ]);
    const pNo = r.results[2].profileId!;

    const got = await t.gql<JourneyVetoes>(JOURNEY_VETOES, { id }, key);
    expect(got.errors).toBeUndefined();
    expect(got.data!.journey.stats).toEqual({ entered: 2, triggered: 1, vetoed: 1 });
    expect(got.data!.journey.vetoedTriggers).toEqual([
      { journeyId: id, profileId: pNo, stepKey: 'bought', entryNo: 1, at: '2026-11-01T08:00:02.000Z', reason: 'NO_MARKETING_CONSENT' },
    ]);

    // The list names people: an ANALYST key gets the counts only.
    const analyst = await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'bi' } }, key);
    const denied = await t.gql<JourneyVetoes>(JOURNEY_VETOES, { id }, analyst.data!.createApiKey.key);
    expect(denied.errors![0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('bad input is refused, not silently accepted', () => {
  it('journeyTriggered with an unknown or another workspace\'s journey id errors NOT_FOUND, like profileUpdated', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const { adminKey: otherKey } = await t.newWorkspace();
    const foreign = await t.gql(CreateJourneyDocument, { input: { name: 'J', steps: [{ key: 's', name: 'S', match: { event: 'Order Completed' }, trigger: true }] } }, otherKey);
    const sock = wsClient(t.url, key);
    await sock.connected;
    try {
      /** The errors of a subscription's first message (a refused subscribe answers with one result carrying errors). */
      const firstError = (query: string, variables: Record<string, unknown>) =>
        new Promise<readonly GraphQLFormattedError[]>((resolve) => {
          const stop = sock.client.subscribe(
            { query, variables },
            {
              next: (r) => {
                stop();
                resolve(r.errors ?? []);
              },
              error: (e) => resolve(e as GraphQLFormattedError[]),
              complete: () => resolve([]),
            },
          );
        });
      const subscription = 'subscription ($id: ID!) { journeyTriggered(journeyId: $id) { profileId } }';
      for (const id of [randomUUID(), foreign.data!.createJourney.id]) {
        const errors = await firstError(subscription, { id });
        expect(errors[0]?.extensions?.code).toBe('NOT_FOUND');
      }
      const profile = await firstError('subscription ($id: ID!) { profileUpdated(id: $id) { version } }', { id: randomUUID() });
      expect(profile[0]?.extensions?.code).toBe('NOT_FOUND');
    } finally {
      await sock.dispose();
    }
  });

  it('createApiKey refuses pii: true for roles that never see personal data, naming the field, and stores no key', async () => {
    const { adminKey: key } = await t.newWorkspace();
    for (const role of ['ANALYST', 'INGEST'] as const) {
      const r = await t.gql(CreateApiKeyDocument, { input: { role, name: 'x', pii: true } }, key);
      expect(r.data).toBeNull();
      expect(r.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PII_NOT_ALLOWED', fields: [{ field: 'input.pii' }] });
    }
    const keys = await t.gql<{ apiKeys: { name: string }[] }>('{ apiKeys { name } }', {}, key);
    expect(keys.data!.apiKeys.map((k) => k.name)).not.toContain('x');
    // READ with pii, ANALYST without: as before.
    expect((await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'r', pii: true } }, key)).data!.createApiKey.apiKey).toMatchObject({ pii: true });
    expect((await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'a', pii: false } }, key)).data!.createApiKey.apiKey).toMatchObject({ pii: false });
  });

  it('DUPLICATE results carry the stored event\'s live profile — in the batch and already stored, after a merge, over GraphQL and /v1', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const a = `member_id::${randomUUID()}`;
    const b = `wechat_unionid:wx_open:${randomUUID()}`;
    const pa = await ingestOne(t, key, [a], { timestamp: '2026-11-01T00:00:00Z' });
    const first = makeEvent({ identifiers: [b], timestamp: '2026-11-02T00:00:00Z' });
    const r = await ingest(t, key, [first, { ...first }], { duplicates: 1 });
    const pb = r.results[0].profileId!;
    expect(r.results[1]).toMatchObject({ status: 'DUPLICATE', profileId: pb });

    // b's profile (the newer) is merged into a's: the stored event now belongs to the survivor.
    await ingestOne(t, key, [a, b], { timestamp: '2026-11-03T00:00:00Z' });
    expect((await t.gql(ProfileDocument, { id: pb }, key)).data!.profile.id).toBe(pa);
    const again = await ingest(t, key, [{ ...first }, { ...first }], { duplicates: 2 });
    expect(again.results.map((x) => [x.status, x.profileId])).toEqual([
      ['DUPLICATE', pa],
      ['DUPLICATE', pa],
    ]);

    const { key: writeKey } = await t.gql(CreateApiKeyDocument, { input: { role: 'INGEST', name: 'sdk' } }, key).then((x) => x.data!.createApiKey);
    const v1 = await t
      .http()
      .post('/v1/batch')
      .set('authorization', basic(writeKey))
      .send({ batch: [{ type: 'track', event: 'Product Viewed', userId: 'u1', messageId: first.messageId, timestamp: '2026-11-02T00:00:00Z' }] });
    expect(v1.status).toBe(200);
    expect(v1.body.results[0]).toMatchObject({ status: 'DUPLICATE', profileId: pa });
  });

  it('after an unmerge, the restored profile\'s conflict names the other profile, not itself', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const m = `member_id::${randomUUID()}`;
    const u = `wechat_unionid:wx_open:${randomUUID()}`;
    const p1 = await ingestOne(t, key, [m], { timestamp: '2026-11-01T00:00:00Z' });
    const p2 = await ingestOne(t, key, [u], { timestamp: '2026-11-02T00:00:00Z' });
    await ingestOne(t, key, [m, u], { timestamp: '2026-11-03T00:00:00Z' });
    const mergeId = (await t.gql(ProfileDocument, { id: p1 }, key)).data!.profile.mergeHistory[0].id;
    expect((await t.gql(UnmergeDocument, { mergeId }, key)).errors).toBeUndefined();
    await ingestOne(t, key, [m, u]);

    const conflictsOf = async (id: string) => (await t.gql(ProfileDocument, { id }, key)).data!.profile.conflicts.filter((c) => c.rule === 'UNMERGED_PAIR');
    const [c1] = await conflictsOf(p1);
    const [c2] = await conflictsOf(p2);
    expect(c1.id).toBe(c2.id);
    expect(c1.otherProfileId).toBe(p2);
    expect(c2.otherProfileId).toBe(p1);
  });
});

describe('profiles.totalCount', () => {
  it('is the exact number of live profiles matching the filter, over all pages, merged-away ones excluded', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const a = `member_id::${randomUUID()}`;
    const b = `wechat_unionid:wx_open:${randomUUID()}`;
    await ingestOne(t, key, [a], { channel: 'wecom' });
    await ingestOne(t, key, [b], { channel: 'wecom' });
    for (let i = 0; i < 3; i++) await ingestOne(t, key, [`member_id::${randomUUID()}`], { channel: 'douyin' });
    await ingestOne(t, key, [a, b], { channel: 'wecom' }); // b's profile merges into a's
    const q = `query ($filter: ProfileFilter) { profiles(filter: $filter, first: 1) { totalCount edges { node { id } } } }`;
    const all = await t.gql<{ profiles: { totalCount: number; edges: unknown[] } }>(q, {}, key);
    expect(all.errors).toBeUndefined();
    expect(all.data!.profiles).toMatchObject({ totalCount: 4, edges: [expect.anything()] });
    const wecom = await t.gql<{ profiles: { totalCount: number } }>(q, { filter: { channel: 'wecom' } }, key);
    expect(wecom.data!.profiles.totalCount).toBe(1);
  });
});

