import { bootApp, type TestApp } from '../support/app';
import { idInput, makeEvent } from '../support/events';
import { CreateApiKeyDocument, IngestDocument, ProfileByIdentifierDocument, type EventInput } from '../generated/graphql';

let t: TestApp;
let key: string;
beforeAll(async () => {
  t = await bootApp();
  key = (await t.newWorkspace('input')).adminKey;
});
afterAll(() => t.stop());

async function exists(id: string): Promise<boolean> {
  const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput(id) }, key);
  return !r.errors;
}

const huge = 'x'.repeat(33 * 1024);
const future = new Date(Date.now() + 3 * 24 * 3600 * 1000).toISOString();

type Over = Omit<Partial<EventInput>, 'identifiers'> & { identifiers?: (string | { type: string; namespace?: string; value: string })[] };
const cases: [string, Over, string, string][] = [
  ['unknown identifier type', { identifiers: [{ type: 'qq_number', value: '12345' }] }, 'UNKNOWN_IDENTIFIER_TYPE', 'identifiers.0.type'],
  ['openid without its app id', { identifiers: [{ type: 'wechat_openid', value: 'oX' }] }, 'NAMESPACE_REQUIRED', 'identifiers.0.namespace'],
  ['namespace on a type without one', { identifiers: [{ type: 'member_id', namespace: 'x', value: 'M' }] }, 'NAMESPACE_NOT_ALLOWED', 'identifiers.0.namespace'],
  ['a phone that is not one', { identifiers: ['member_id::OK-1', 'phone::12ab'] }, 'INVALID_PHONE', 'identifiers.1.value'],
  ['an e-mail that is not one', { identifiers: ['email::li.lei-at-example'] }, 'INVALID_EMAIL', 'identifiers.0.value'],
  ['only junk identifiers', { identifiers: ['device_id::undefined', 'anonymous_id::null'] }, 'NO_USABLE_IDENTIFIER', 'identifiers'],
  ['no identifiers', { identifiers: [] }, 'NO_IDENTIFIER', 'identifiers'],
  ['unknown channel', { channel: 'myspace' }, 'UNKNOWN_CHANNEL', 'channel'],
  ['unknown type', { type: 'purchase' }, 'INVALID_EVENT_TYPE', 'type'],
  ['track without a name', { name: null }, 'NAME_REQUIRED', 'name'],
  ['traits that are not an object', { traits: ['vip'] }, 'INVALID_JSON', 'traits'],
  ['properties that are a string', { properties: 'revenue=5' }, 'INVALID_JSON', 'properties'],
  ['an event over 32 KB', { properties: { blob: huge } }, 'EVENT_TOO_LARGE', ''],
  ['a timestamp days in the future', { timestamp: future }, 'TIMESTAMP_IN_FUTURE', 'timestamp'],
  ['a timestamp that is not one', { timestamp: 'yesterday' }, 'INVALID_TIMESTAMP', 'timestamp'],
  ['an empty messageId', { messageId: '  ' }, 'INVALID_MESSAGE_ID', 'messageId'],
  ['a negative order', { name: 'Order Completed', properties: { revenue: -5 } }, 'INVALID_REVENUE', 'properties.revenue'],
  ['an inviter that is not an identifier', { name: 'Invite Accepted', properties: { inviter: 'bob' } }, 'INVALID_RELATION', 'properties.inviter'],
];

describe('bad input to ingestEvents', () => {
  it.each(cases)('%s: rejected with a precise reason and field, the rest of the batch lands', async (_n, over, reason, field) => {
    const marker = `member_id::good-${reason}-${Math.random()}`;
    const bad = makeEvent({ identifiers: ['member_id::bad-' + reason], ...over } as never);
    const good = makeEvent({ identifiers: [marker] });
    const r = await t.gql(IngestDocument, { events: [good, bad, makeEvent()] }, key);
    expect(r.errors).toBeUndefined();
    const res = r.data!.ingestEvents;
    expect(res).toMatchObject({ accepted: 2, rejected: 1 });
    expect(res.results[1]).toMatchObject({ status: 'REJECTED', profileId: null, error: { code: 'BAD_USER_INPUT', reason, field } });
    expect(res.results[1].error!.message.length).toBeGreaterThan(5);
    expect(await exists(marker)).toBe(true);
    // Nothing was written for the rejected event.
    expect(await exists('member_id::bad-' + reason)).toBe(false);
  });

  it('refuses more than 1,000 events in one call, writing nothing', async () => {
    const events = Array.from({ length: 1001 }, (_, i) => makeEvent({ identifiers: [`member_id::too-many-${i}`] }));
    const r = await t.gql(IngestDocument, { events }, key);
    expect(r.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'BATCH_TOO_LARGE' });
    expect((r.errors![0].extensions.fields as { field: string }[])[0].field).toBe('events');
    expect(await exists('member_id::too-many-0')).toBe(false);
  });

  it('counts dropped junk identifiers and never links on them', async () => {
    const r = await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ['member_id::J1', 'device_id::unknown', 'phone::0'] })] }, key);
    expect(r.data!.ingestEvents).toMatchObject({ accepted: 1, droppedIdentifiers: 2 });
    expect(r.data!.ingestEvents.results[0].droppedIdentifiers).toBe(2);
  });

  it('an unknown key is UNAUTHENTICATED and a READ key is FORBIDDEN; nothing is written', async () => {
    const e = makeEvent({ identifiers: ['member_id::nobody-writes-me'] });
    const anon = await t.gql(IngestDocument, { events: [e] }, 'siyu_unknown-key-000000000000000000000');
    expect(anon.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    const { data } = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'reader' } }, key);
    const read = await t.gql(IngestDocument, { events: [e] }, data!.createApiKey.key);
    expect(read.errors![0].extensions.code).toBe('FORBIDDEN');
    expect(await exists('member_id::nobody-writes-me')).toBe(false);
  });

  it('an INGEST or ANALYST key cannot read profiles', async () => {
    for (const role of ['INGEST', 'ANALYST'] as const) {
      const { data } = await t.gql(CreateApiKeyDocument, { input: { role, name: role } }, key);
      const r = await t.gql(ProfileByIdentifierDocument, { identifier: idInput('member_id::J1') }, data!.createApiKey.key);
      expect(r.errors![0].extensions.code).toBe('FORBIDDEN');
      expect(r.data).toBeNull();
    }
  });
});
