import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Role } from '../../src/platform/auth';
import { systemActor } from '../../src/modules/compliance';
import { bootApp, type TestApp } from '../support/app';
import { ProfileByIdentifierDocument, type IdentifierInput } from '../generated/graphql';

let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

interface ErrorResponse {
  errors: { message: string; extensions: Record<string, unknown> }[];
}

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

/** A workspace with an INGEST key (the SDK's write key) and its admin key for reading back. */
async function workspace(): Promise<{ workspaceId: string; adminKey: string; writeKey: string }> {
  const { workspaceId, adminKey } = await t.newWorkspace('segment');
  const { key } = await t.app.services.workspaces.createApiKey(systemActor(workspaceId), { role: Role.INGEST, name: 'sdk' });
  return { workspaceId, adminKey, writeKey: key };
}

interface StoredEvent {
  messageId: string;
  type: string;
  name: string | null;
  channel: string;
  timestamp: string;
  properties: Record<string, unknown> | null;
  context: Record<string, unknown> | null;
  traits: Record<string, unknown> | null;
}

const PROFILE_WITH_EVENTS = `query ($identifier: IdentifierInput!) {
  profileByIdentifier(identifier: $identifier) {
    id channels eventCount orderCount totalSpend
    traits { name value }
    identifiers { type namespace value }
    events(first: 100) { edges { node { messageId type name channel timestamp properties context traits } } }
  }
}`;

interface ProfileWithEvents {
  profileByIdentifier: {
    id: string;
    channels: string[];
    eventCount: number;
    orderCount: number;
    totalSpend: number;
    traits: { name: string; value: unknown }[];
    identifiers: { type: string; namespace: string | null; value: string }[];
    events: { edges: { node: StoredEvent }[] };
  };
}

async function profile(adminKey: string, identifier: IdentifierInput) {
  const r = await t.gql<ProfileWithEvents>(PROFILE_WITH_EVENTS, { identifier }, adminKey);
  expect(r.errors).toBeUndefined();
  const p = r.data!.profileByIdentifier;
  return { ...p, events: p.events.edges.map((e) => e.node) };
}

async function profileCode(adminKey: string, identifier: IdentifierInput): Promise<string | undefined> {
  const r = await t.gql(ProfileByIdentifierDocument, { identifier }, adminKey);
  return r.errors?.[0]?.extensions.code;
}

const ids = (p: { identifiers: { type: string; namespace: string | null; value: string }[] }) =>
  p.identifiers.map((i) => `${i.type}:${i.namespace ?? ''}:${i.value}`).sort();

describe('the @segment/analytics-node SDK, unchanged', () => {
  it('delivers track, identify, page and alias; anonymousId and userId resolve into one profile', async () => {
    const { adminKey, writeKey } = await workspace();
    const member = `u-${randomUUID()}`;
    const anon = `anon-${randomUUID()}`;
    const earlierAnon = `anon-${randomUUID()}`;
    const analytics = new Analytics({ writeKey, host: t.url, flushAt: 50, flushInterval: 60_000, maxRetries: 0, httpRequestTimeout: 10_000 });
    const responses: { status: number; body: string }[] = [];
    const errors: unknown[] = [];
    analytics.on('http_response', (r) => responses.push({ status: r.status, body: r.body }));
    analytics.on('error', (e) => errors.push(e));

    analytics.identify({ userId: member, anonymousId: anon, traits: { name: '小王', email: 'Wang@Example.com', city: '上海' } });
    analytics.track({ anonymousId: anon, event: 'Product Viewed', properties: { sku: 'A1', price: 99 }, context: { channel: 'wechat_mp' } });
    analytics.page({ anonymousId: anon, category: 'Shop', name: 'Home', properties: { path: '/' } });
    analytics.alias({ userId: member, previousId: earlierAnon });
    analytics.track({ userId: member, event: 'Order Completed', properties: { revenue: 199 } });
    await analytics.closeAndFlush({ timeout: 20_000 });

    expect(errors).toEqual([]);
    expect(responses.map((r) => r.status)).toEqual([200]); // one batch on the default path /v1/batch

    const p = await profile(adminKey, { type: 'member_id', value: member });
    expect(ids(p)).toEqual(
      [`anonymous_id::${anon}`, `anonymous_id::${earlierAnon}`, 'email::wang@example.com', `member_id::${member}`].sort(),
    );
    expect((await profile(adminKey, { type: 'anonymous_id', value: earlierAnon })).id).toBe(p.id);
    expect(p.eventCount).toBe(5);
    expect(p).toMatchObject({ orderCount: 1, totalSpend: 199 });
    expect(p.channels.sort()).toEqual(['other', 'wechat_mp']);
    // e-mail lives as an (encrypted, masked) identifier, not as a plain-text trait
    expect(Object.fromEntries(p.traits.map((x) => [x.name, x.value]))).toEqual({ name: '小王', city: '上海' });

    const byType = (type: string, name?: string) => p.events.find((e) => e.type === type && (name === undefined || e.name === name))!;
    expect(byType('identify')).toMatchObject({ name: null, channel: 'other', traits: { name: '小王', city: '上海' } });
    expect(byType('identify').context).toMatchObject({ library: { name: '@segment/analytics-node' } });
    expect(byType('track', 'Product Viewed')).toMatchObject({ channel: 'wechat_mp', properties: { sku: 'A1', price: 99 }, traits: null });
    expect(byType('page')).toMatchObject({ name: 'Home', channel: 'other', properties: { name: 'Home', category: 'Shop', path: '/' } });
    expect(byType('alias')).toMatchObject({ name: null, channel: 'other' });
    expect(byType('track', 'Order Completed').properties).toEqual({ revenue: 199 });
    for (const e of p.events) expect(e.messageId).toMatch(/^node-next-/);
  });
});

describe('the @rudderstack/rudder-sdk-node SDK, unchanged', () => {
  it('delivers identify, track, page and alias in gzipped batches labelled application/x-www-form-urlencoded', async () => {
    const { adminKey, writeKey } = await workspace();
    const member = `u-${randomUUID()}`;
    const anon = `anon-${randomUUID()}`;
    const errors: unknown[] = [];
    // The SDK sends its first message at once, the rest when flushed: two requests to /v1/batch.
    const rudder = new RudderAnalytics(writeKey, { dataPlaneUrl: t.url, flushAt: 50, flushInterval: 60_000, retryCount: 0, logLevel: 'silent', errorHandler: (e) => errors.push(e) });
    rudder.identify({ userId: member, anonymousId: anon, traits: { name: '小李', email: 'Li@Example.com', city: '深圳' } });
    rudder.track({ anonymousId: anon, event: 'Product Viewed', properties: { sku: 'R1', price: 59 }, context: { channel: 'wechat_mp' } });
    rudder.page({ anonymousId: anon, category: 'Shop', name: 'Home', properties: { path: '/' } });
    rudder.alias({ userId: member, previousId: `anon-${randomUUID()}` });
    rudder.track({ userId: member, event: 'Order Completed', properties: { revenue: 88 } });
    await rudder.flush();

    expect(errors).toEqual([]);
    const p = await profile(adminKey, { type: 'member_id', value: member });
    expect(p.eventCount).toBe(5);
    expect(p).toMatchObject({ orderCount: 1, totalSpend: 88 });
    expect(ids(p)).toContain('email::li@example.com');
    expect(ids(p)).toContain(`anonymous_id::${anon}`);
    const byType = (type: string, name?: string) => p.events.find((e) => e.type === type && (name === undefined || e.name === name))!;
    expect(byType('identify')).toMatchObject({ channel: 'other', traits: { name: '小李', city: '深圳' } });
    expect(byType('identify').context).toMatchObject({ library: { name: 'analytics-node' }, traits: { name: '小李', city: '深圳' } });
    // The SDK copies the traits into context.traits: the e-mail is kept only as an encrypted identifier.
    expect(JSON.stringify(p.events)).not.toMatch(/li@example\.com/i);
    expect(byType('track', 'Product Viewed')).toMatchObject({ channel: 'wechat_mp', properties: { sku: 'R1', price: 59 } });
    expect(byType('page')).toMatchObject({ name: 'Home', properties: { name: 'Home', category: 'Shop', path: '/' } });
    expect(byType('alias')).toBeDefined();
  });
});

describe('authentication', () => {
  it('answers 401 without a key and with an unknown key', async () => {
    const none = await t.http().post('/v1/track').send({ userId: 'u', event: 'X' });
    expect(none.status).toBe(401);
    expect(none.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'UNAUTHENTICATED' });
    const unknown = await t.http().post('/v1/batch').set('authorization', basic('siyu_not-a-real-key-000000000000000')).send({ batch: [] });
    expect(unknown.status).toBe(401);
    expect(unknown.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('answers 403 to READ and ANALYST keys, and stores nothing', async () => {
    const { workspaceId, adminKey } = await workspace();
    for (const role of [Role.READ, Role.ANALYST]) {
      const { key } = await t.app.services.workspaces.createApiKey(systemActor(workspaceId), { role, name: role });
      const res = await t.http().post('/v1/track').set('authorization', basic(key)).send({ userId: 'u-403', event: 'X' });
      expect(res.status).toBe(403);
      expect(res.body.errors[0].extensions.code).toBe('FORBIDDEN');
      expect(res.body.errors[0].message).toContain(role.toUpperCase());
    }
    expect(await profileCode(adminKey, { type: 'member_id', value: 'u-403' })).toBe('NOT_FOUND');
  });

  it('accepts ADMIN keys, Siyu Bearer keys, and analytics.js style: text/plain with writeKey in the body on /v1/t', async () => {
    const { adminKey, writeKey } = await workspace();
    const admin = await t.http().post('/v1/identify').set('authorization', basic(adminKey)).send({ userId: 'u-a', traits: { plan: 'gold' } });
    expect(admin.status).toBe(200);
    const bearer = await t.http().post('/v1/track').set('authorization', `Bearer ${writeKey}`).send({ userId: 'u-a', event: 'X' });
    expect(bearer.status).toBe(200);
    const browser = await t
      .http()
      .post('/v1/t')
      .set('content-type', 'text/plain')
      .set('origin', 'https://shop.example.com')
      .send(JSON.stringify({ writeKey, type: 'track', event: 'Clicked', anonymousId: 'anon-a', userId: 'u-a', context: { library: { name: 'analytics.js' } } }));
    expect(browser.status).toBe(200);
    expect(browser.headers['access-control-allow-origin']).toBe('*');
    const p = await profile(adminKey, { type: 'member_id', value: 'u-a' });
    expect(p.events.find((e) => e.name === 'Clicked')!.channel).toBe('web');

    const preflight = await t.http().options('/v1/batch').set('origin', 'https://shop.example.com').set('access-control-request-method', 'POST');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toContain('Authorization');
  });
});

describe('request errors', () => {
  it('answers 400 MALFORMED_JSON to malformed JSON', async () => {
    const { writeKey } = await workspace();
    const res = await t.http().post('/v1/batch').set('authorization', basic(writeKey)).set('content-type', 'application/json').send('{"batch": [');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'MALFORMED_JSON' });
  });

  it('answers 400 to a batch without a batch array, and to a body that is not an object', async () => {
    const { writeKey } = await workspace();
    const noBatch = await t.http().post('/v1/batch').set('authorization', basic(writeKey)).send({ messages: [] });
    expect(noBatch.status).toBe(400);
    expect(noBatch.body.errors[0].extensions).toMatchObject({ reason: 'INVALID_BATCH', fields: [{ field: 'batch' }] });
    const array = await t.http().post('/v1/track').set('authorization', basic(writeKey)).send([{ event: 'X' }]);
    expect(array.status).toBe(400);
    expect(array.body.errors[0].extensions.reason).toBe('INVALID_BODY');
  });

  it('reads form-labelled bodies as JSON: not JSON is MALFORMED_JSON, a gzip bomb stops at the limit with 413', async () => {
    const { adminKey, writeKey } = await workspace();
    const post = (body: Buffer | string, headers: Record<string, string>) =>
      fetch(`${t.url}/v1/batch`, { method: 'POST', headers: { authorization: basic(writeKey), ...headers }, body });
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const plain = await post(JSON.stringify({ batch: [{ type: 'track', event: 'Form', userId: 'u-form' }] }), form);
    expect(plain.status).toBe(200);
    expect(((await plain.json()) as { accepted: number }).accepted).toBe(1);
    expect((await profile(adminKey, { type: 'member_id', value: 'u-form' })).events[0].name).toBe('Form');

    const notJson = await post('batch=1&event=X', form);
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as ErrorResponse).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'MALFORMED_JSON' });

    // 50 MB of JSON whitespace gzips to ~50 KB; it is inflated only up to the 500 KB limit.
    const bomb = zlib.gzipSync(Buffer.concat([Buffer.from('{"batch":['), Buffer.alloc(50 * 1024 * 1024, ' '), Buffer.from(']}')]));
    expect(bomb.length).toBeLessThan(500 * 1024);
    const res = await post(bomb, { ...form, 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorResponse).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'BODY_TOO_LARGE' });
  });

  it('answers 413 to a request over 500 KB and stores none of it', async () => {
    const { adminKey, writeKey } = await workspace();
    const big = 'x'.repeat(30 * 1024); // each message stays under 32 KB; 20 of them are ~600 KB
    const batch = Array.from({ length: 20 }, (_, i) => ({ type: 'track', event: 'Big', userId: 'u-413', messageId: `big-${i}`, properties: { big } }));
    const res = await t.http().post('/v1/batch').set('authorization', basic(writeKey)).send({ batch });
    expect(res.status).toBe(413);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'BODY_TOO_LARGE' });
    expect(await profileCode(adminKey, { type: 'member_id', value: 'u-413' })).toBe('NOT_FOUND');
  });

  it('answers 400 BATCH_TOO_LARGE to more than 1000 messages', async () => {
    const { writeKey } = await workspace();
    const batch = Array.from({ length: 1001 }, () => ({ type: 'track', event: 'X', userId: 'u' }));
    const res = await t.http().post('/v1/import').set('authorization', basic(writeKey)).send({ batch });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'BATCH_TOO_LARGE', fields: [{ field: 'batch' }] });
  });

  it('answers 404 with a JSON error on an unknown endpoint', async () => {
    const res = await t.http().post('/v1/nope').send({});
    expect(res.status).toBe(404);
    expect(res.body.errors[0].extensions.code).toBe('NOT_FOUND');
  });
});

describe('per-event results', () => {
  it('rejects a single event over 32 KB with 400 EVENT_TOO_LARGE', async () => {
    const { adminKey, writeKey } = await workspace();
    const res = await t
      .http()
      .post('/v1/track')
      .set('authorization', basic(writeKey))
      .send({ userId: 'u-32k', event: 'Big', properties: { big: 'x'.repeat(33 * 1024) } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'EVENT_TOO_LARGE' });
    expect(await profileCode(adminKey, { type: 'member_id', value: 'u-32k' })).toBe('NOT_FOUND');
  });

  it('rejects a single event by naming the Segment field', async () => {
    const { writeKey } = await workspace();
    const res = await t.http().post('/v1/track').set('authorization', basic(writeKey)).send({ userId: 'u' });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions).toMatchObject({ reason: 'NAME_REQUIRED', fields: [{ field: 'event' }] });
  });

  it('lands the good events of a batch, reports the bad ones, and a retry changes nothing', async () => {
    const { adminKey, writeKey } = await workspace();
    const future = new Date(Date.now() + 3 * 24 * 3600 * 1000).toISOString();
    const body = {
      batch: [
        { type: 'identify', messageId: 'b-1', userId: 'u-b', traits: { phone: '13812345678', city: '杭州' } },
        { type: 'identify', messageId: 'b-2', userId: 'u-b', traits: { phone: 'call me maybe' } },
        { type: 'track', messageId: 'b-3', userId: 'u-b', event: 'Late', timestamp: future },
        { type: 'track', messageId: 'b-4', userId: 'u-b', event: 'Product Viewed', properties: { sku: 'B4' } },
        'not a message',
      ],
    };
    const first = await t.http().post('/v1/batch').set('authorization', basic(writeKey)).send(body);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ success: true, accepted: 2, duplicates: 0, rejected: 3 });
    expect(first.body.results.map((r: { status: string }) => r.status)).toEqual(['ACCEPTED', 'REJECTED', 'REJECTED', 'ACCEPTED', 'REJECTED']);
    expect(first.body.results[1]).toMatchObject({ messageId: 'b-2', error: { code: 'BAD_USER_INPUT', reason: 'INVALID_PHONE', field: 'traits.phone' } });
    expect(first.body.results[2]).toMatchObject({ messageId: 'b-3', error: { reason: 'TIMESTAMP_IN_FUTURE', field: 'timestamp' } });
    expect(first.body.results[4]).toMatchObject({ error: { reason: 'INVALID_EVENT' } });
    const profileId = first.body.results[0].profileId;
    expect(first.body.results[3].profileId).toBe(profileId);

    const before = await profile(adminKey, { type: 'phone', value: '+8613812345678' });
    expect(before).toMatchObject({ id: profileId, eventCount: 2 });

    const retry = await t.http().post('/v1/batch').set('authorization', basic(writeKey)).send(body);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ success: true, accepted: 0, duplicates: 2, rejected: 3 });
    const after = await profile(adminKey, { type: 'member_id', value: 'u-b' });
    expect(after.eventCount).toBe(2);
    expect(after.events.map((e) => e.messageId).sort()).toEqual(['b-1', 'b-4']);
  });

  it('maps context.externalIds (collection as namespace) and context.wechat into identifiers', async () => {
    const { adminKey, writeKey } = await workspace();
    const res = await t
      .http()
      .post('/v1/track')
      .set('authorization', basic(writeKey))
      .send({
        anonymousId: 'anon-wx',
        event: 'Coupon Redeemed',
        context: {
          channel: 'wechat_mp',
          wechat: { openid: 'o-mp-1', appid: 'wx-mp', unionid: 'un-1', openPlatformId: 'op-brand', scene: 1047 },
          externalIds: [
            { id: 'o-oa-1', type: 'wechat_openid', collection: 'wx-oa', encoding: 'none' },
            { id: 'cid-1', type: 'ga_client_id', collection: 'users', encoding: 'none' },
          ],
        },
      });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, accepted: 1, results: [{ status: 'ACCEPTED' }] });

    const p = await profile(adminKey, { type: 'wechat_openid', namespace: 'wx-oa', value: 'o-oa-1' });
    expect(ids(p)).toEqual(['anonymous_id::anon-wx', 'wechat_openid:wx-mp:o-mp-1', 'wechat_openid:wx-oa:o-oa-1', 'wechat_unionid:op-brand:un-1'].sort());
    expect((await profile(adminKey, { type: 'wechat_unionid', namespace: 'op-brand', value: 'un-1' })).id).toBe(p.id);
    const [e] = p.events;
    expect(e.channel).toBe('wechat_mp');
    // mapped externalIds leave the stored context; the unknown one stays
    expect(e.context).toMatchObject({ wechat: { scene: 1047 }, externalIds: [{ id: 'cid-1', type: 'ga_client_id' }] });

    const noNamespace = await t
      .http()
      .post('/v1/track')
      .set('authorization', basic(writeKey))
      .send({ anonymousId: 'anon-wx', event: 'X', context: { externalIds: [{ id: 'o-2', type: 'wechat_openid' }] } });
    expect(noNamespace.status).toBe(400);
    expect(noNamespace.body.errors[0].extensions).toMatchObject({ reason: 'NAMESPACE_REQUIRED', fields: [{ field: 'context.externalIds.0.collection' }] });
  });

  it('corrects the device clock with sentAt', async () => {
    const { adminKey, writeKey } = await workspace();
    const skew = 3600 * 1000; // the device clock runs an hour fast
    const now = Date.now();
    const res = await t
      .http()
      .post('/v1/batch')
      .set('authorization', basic(writeKey))
      .send({ sentAt: new Date(now + skew).toISOString(), batch: [{ type: 'track', event: 'Skewed', userId: 'u-skew', timestamp: new Date(now + skew - 10 * 60_000).toISOString() }] });
    expect(res.body.accepted).toBe(1);
    const [e] = (await profile(adminKey, { type: 'member_id', value: 'u-skew' })).events;
    const happened = Date.parse(e.timestamp);
    // ten minutes ago on the server clock, give or take the request's own latency
    expect(Math.abs(happened - (now - 10 * 60_000))).toBeLessThan(30_000);
  });

  it('rejects alone a message whose clock-skew corrected time leaves the date range; the others land', async () => {
    const { adminKey, writeKey } = await workspace();
    const now = new Date().toISOString();
    const res = await t
      .http()
      .post('/v1/batch')
      .set('authorization', basic(writeKey))
      .send({
        sentAt: '2026-01-01T00:00:00Z',
        batch: [
          { type: 'track', event: 'P', userId: 'u-range', messageId: 'r-1', timestamp: '+275760-09-13T00:00:00Z' },
          { type: 'track', event: 'P', userId: 'u-range', messageId: 'r-2', timestamp: now, sentAt: '-271821-04-20T00:00:00Z' },
          { type: 'track', event: 'P', userId: 'u-range', messageId: 'r-3', timestamp: now, sentAt: now },
        ],
      });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, rejected: 2 });
    expect(res.body.results[0]).toMatchObject({ messageId: 'r-1', status: 'REJECTED', error: { code: 'BAD_USER_INPUT', reason: 'TIMESTAMP_IN_FUTURE', field: 'timestamp' } });
    expect(res.body.results[1]).toMatchObject({ messageId: 'r-2', status: 'REJECTED', error: { reason: 'TIMESTAMP_IN_FUTURE', field: 'timestamp' } });
    expect(res.body.results[1].error.message).toContain('sentAt');
    expect((await profile(adminKey, { type: 'member_id', value: 'u-range' })).events.map((e) => e.messageId)).toEqual(['r-3']);

    // The single-message endpoint answers 400 with the typed reason, not 500.
    const single = await t
      .http()
      .post('/v1/track')
      .set('authorization', basic(writeKey))
      .send({ event: 'P', userId: 'u-range', originalTimestamp: '1970-01-01T00:00:00Z', sentAt: '+275760-09-13T00:00:00Z' });
    expect(single.status).toBe(400);
    expect(single.body.errors[0].extensions).toMatchObject({ reason: 'TIMESTAMP_TOO_OLD', fields: [{ field: 'originalTimestamp' }] });
  });

  it('accepts a gzip-compressed batch', async () => {
    const { adminKey, writeKey } = await workspace();
    const body = zlib.gzipSync(JSON.stringify({ batch: [{ type: 'track', event: 'Zipped', userId: 'u-gz', messageId: 'gz-1' }] }));
    // fetch, not supertest: superagent re-encodes a Buffer body sent as application/json
    const res = await fetch(`${t.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(writeKey), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { accepted: number }).accepted).toBe(1);
    expect((await profile(adminKey, { type: 'member_id', value: 'u-gz' })).events[0].name).toBe('Zipped');
  });
});

describe('metrics', () => {
  it('labels /v1 requests by their endpoint', async () => {
    const { writeKey } = await workspace();
    await t.http().post('/v1/track').set('authorization', basic(writeKey)).send({ userId: 'u-m', event: 'X' });
    const metrics = await t.http().get('/metrics');
    expect(metrics.text).toMatch(/siyu_http_requests_total\{[^}]*route="\/v1\/track"[^}]*status="200"/);
  });
});
