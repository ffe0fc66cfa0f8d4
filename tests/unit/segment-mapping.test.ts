import { correctTimestamp, segmentChannel, segmentRejection, segmentToRawEvent, type MapOptions } from '../../src/modules/events/segment.mapping';
import { segmentKeyFromHeader } from '../../src/modules/events/segment.router';
import { validateEvent, type RawEvent } from '../../src/modules/events/event-validation';
import { IdentityRules, PiiCipher } from '../../src/modules/identities';

const RECEIVED = Date.parse('2026-03-01T12:00:00.000Z');
const opts = (over: Partial<MapOptions> = {}): MapOptions => ({ receivedAt: RECEIVED, newMessageId: () => 'generated-id', ...over });
const map = (message: Record<string, unknown>, over: Partial<MapOptions> = {}) => segmentToRawEvent(message, opts(over));
const event = (message: Record<string, unknown>, over: Partial<MapOptions> = {}) => map(message, over).event as RawEvent & Record<string, unknown>;

describe('segmentToRawEvent', () => {
  it('maps a track: event → name, properties, userId/anonymousId → identifiers, context kept', () => {
    const e = event(
      {
        type: 'identify', // the endpoint decides
        messageId: 'm-1',
        event: 'Product Viewed',
        userId: 'u-1',
        anonymousId: 'a-1',
        properties: { sku: 'A1' },
        traits: { plan: 'gold' },
        context: { traits: { email: 'x@example.com', plan: 'gold' }, library: { name: 'analytics.js' } },
        timestamp: '2026-03-01T11:00:00.000Z',
      },
      { type: 'track' },
    );
    expect(e).toEqual({
      messageId: 'm-1',
      type: 'track',
      name: 'Product Viewed',
      channel: 'web',
      timestamp: '2026-03-01T11:00:00.000Z',
      identifiers: [
        { type: 'member_id', value: 'u-1' },
        { type: 'anonymous_id', value: 'a-1' },
      ],
      properties: { sku: 'A1' },
      // a track's context.traits stays in context (without phone and e-mail, which Siyu stores only
      // encrypted); top-level traits are not the person's on a track
      context: { traits: { plan: 'gold' }, library: { name: 'analytics.js' } },
    });
  });

  it('maps identify traits, taking phone and e-mail out as identifiers', () => {
    const e = event({ type: 'identify', messageId: 'm', userId: 'u', traits: { name: '小王', phone: '13812345678', email: 'W@Example.com', city: '上海' } });
    expect(e.traits).toEqual({ name: '小王', city: '上海' });
    expect(e.identifiers).toEqual([
      { type: 'member_id', value: 'u' },
      { type: 'phone', value: '13812345678' },
      { type: 'email', value: 'W@Example.com' },
    ]);
  });

  it('does not take phone or e-mail from the traits of other types', () => {
    const e = event({ type: 'track', event: 'X', messageId: 'm', userId: 'u', traits: { phone: '13812345678' } });
    expect(e.identifiers).toEqual([{ type: 'member_id', value: 'u' }]);
    expect(e.traits).toBeUndefined();
  });

  it.each(['page', 'screen'])('maps a %s: name → name, name and category also into properties', (type) => {
    const e = event({ type, messageId: 'm', anonymousId: 'a', name: 'Home', category: 'Shop', properties: { path: '/' } });
    expect(e.type).toBe(type);
    expect(e.name).toBe('Home');
    expect(e.properties).toEqual({ name: 'Home', category: 'Shop', path: '/' });
  });

  it('keeps page properties that already name the page, and leaves an unnamed page without a name', () => {
    expect(event({ type: 'page', messageId: 'm', anonymousId: 'a', name: 'Home', properties: { name: 'Own' } }).properties).toEqual({ name: 'Own' });
    const e = event({ type: 'page', messageId: 'm', anonymousId: 'a' });
    expect(e.name).toBeUndefined();
    expect(e.properties).toBeUndefined();
  });

  it('maps a group: groupId and the group traits into properties, never into profile traits', () => {
    const e = event({ type: 'group', messageId: 'm', userId: 'u', groupId: 'g-1', traits: { name: 'ACME', employees: 30 } });
    expect(e.properties).toEqual({ groupId: 'g-1', groupTraits: { name: 'ACME', employees: 30 } });
    expect(e.traits).toBeUndefined();
    expect(e.name).toBeUndefined();
  });

  it('maps an alias: previousId → anonymous_id, userId → member_id', () => {
    const e = event({ type: 'alias', messageId: 'm', userId: 'u-9', previousId: 'anon-9' });
    expect(e.identifiers).toEqual([
      { type: 'member_id', value: 'u-9' },
      { type: 'anonymous_id', value: 'anon-9' },
    ]);
  });

  it('generates a messageId only when there is none', () => {
    expect(event({ type: 'track', event: 'X', userId: 'u' }).messageId).toBe('generated-id');
    expect(event({ type: 'track', event: 'X', userId: 'u', messageId: 'mine' }).messageId).toBe('mine');
    expect(typeof segmentToRawEvent({ type: 'track', event: 'X', userId: 'u' }, { receivedAt: RECEIVED }).event!.messageId).toBe('string');
  });

  it('passes a message that is not an object on as null (the pipeline rejects it)', () => {
    expect(segmentToRawEvent('nope', opts()).event).toBeNull();
    expect(segmentToRawEvent([1], opts()).event).toBeNull();
  });

  it('merges the batch context under the message context', () => {
    const e = event({ type: 'track', event: 'X', messageId: 'm', userId: 'u', context: { channel: 'wecom', ip: '1.2.3.4' } }, { context: { channel: 'app', locale: 'zh-CN' } });
    expect(e.channel).toBe('wecom');
    expect(e.context).toEqual({ channel: 'wecom', ip: '1.2.3.4', locale: 'zh-CN' });
  });

  it('moves a Segment context.referrer aside but keeps a Siyu referrer identifier', () => {
    const seg = event({ type: 'track', event: 'X', messageId: 'm', userId: 'u', context: { referrer: { type: 'dataxu', id: '123' } } });
    expect(seg.context).toEqual({ segmentReferrer: { type: 'dataxu', id: '123' } });
    const siyu = event({ type: 'track', event: 'X', messageId: 'm', userId: 'u', context: { referrer: { type: 'member_id', value: 'u-0' } } });
    expect(siyu.context).toEqual({ referrer: { type: 'member_id', value: 'u-0' } });
  });
});

describe('identifiers from context', () => {
  it('maps context.externalIds of Siyu types; collection is the namespace of namespaced types only', () => {
    const m = map({
      type: 'track',
      event: 'X',
      messageId: 'm',
      context: {
        externalIds: [
          { id: 'o-1', type: 'wechat_openid', collection: 'wx-app-1', encoding: 'none' },
          { id: '13812345678', type: 'phone', collection: 'users', encoding: 'none' },
          { id: 'ga-1', type: 'ga_client_id', collection: 'users', encoding: 'none' },
          { id: 'e3b0c442', type: 'email', collection: 'users', encoding: 'sha256' },
          { id: 'dev-1', type: 'device_id' },
        ],
      },
    });
    expect(m.event!.identifiers).toEqual([
      { type: 'wechat_openid', namespace: 'wx-app-1', value: 'o-1' },
      { type: 'phone', value: '13812345678' },
      { type: 'device_id', value: 'dev-1' },
    ]);
    // mapped entries leave the stored context (they may hold personal data); the others stay
    expect((m.event!.context as Record<string, unknown>).externalIds).toEqual([
      { id: 'ga-1', type: 'ga_client_id', collection: 'users', encoding: 'none' },
      { id: 'e3b0c442', type: 'email', collection: 'users', encoding: 'sha256' },
    ]);
    expect(m.sources.identifiers[0]).toEqual({ type: 'context.externalIds.0.type', value: 'context.externalIds.0.id', namespace: 'context.externalIds.0.collection' });
  });

  it('maps context.wechat: openid in the appid namespace, unionid in the openPlatformId namespace', () => {
    const e = event({ type: 'track', event: 'X', messageId: 'm', context: { channel: 'wechat_mp', wechat: { openid: 'o-1', appid: 'wx1', unionid: 'un-1', openPlatformId: 'op-1', scene: 1001 } } });
    expect(e.identifiers).toEqual([
      { type: 'wechat_openid', namespace: 'wx1', value: 'o-1' },
      { type: 'wechat_unionid', namespace: 'op-1', value: 'un-1' },
    ]);
    expect(e.channel).toBe('wechat_mp');
    expect((e.context as Record<string, unknown>).wechat).toMatchObject({ scene: 1001 });
  });
});

describe('segmentChannel', () => {
  it.each([
    [{ channel: 'wechat_mp', library: { name: 'analytics.js' } }, 'wechat_mp'],
    [{ channel: 'browser', library: { name: 'analytics.js' } }, 'web'],
    [{ library: { name: 'analytics-next' } }, 'web'],
    [{ library: { name: 'analytics-ios' } }, 'app'],
    [{ library: { name: 'analytics-android' } }, 'app'],
    [{ library: { name: '@segment/analytics-react-native' } }, 'app'],
    [{ library: { name: 'analytics-kotlin' } }, 'app'],
    [{ library: { name: '@segment/analytics-node' } }, 'other'],
    [{ library: { name: 'analytics-python' } }, 'other'],
    [{}, 'other'],
    [undefined, 'other'],
  ])('%j → %s', (context, channel) => {
    expect(segmentChannel(context)).toBe(channel);
  });
});

describe('clock-skew correction', () => {
  it('adds receivedAt − sentAt to the timestamp', () => {
    // The device clock runs 1 h fast: it stamped the event at 12:30 and sent it at 13:00 (its time),
    // the server received it at 12:00 — so it happened at 11:30 server time.
    expect(correctTimestamp('2026-03-01T12:30:00.000Z', '2026-03-01T13:00:00.000Z', RECEIVED)).toBe('2026-03-01T11:30:00.000Z');
  });

  it('keeps the timestamp without a usable sentAt, and passes an unparsable one on', () => {
    expect(correctTimestamp('2026-03-01T10:00:00.000Z', undefined, RECEIVED)).toBe('2026-03-01T10:00:00.000Z');
    expect(correctTimestamp('2026-03-01T10:00:00.000Z', 'garbage', RECEIVED)).toBe('2026-03-01T10:00:00.000Z');
    expect(correctTimestamp('garbage', '2026-03-01T10:00:00.000Z', RECEIVED)).toBe('garbage');
  });

  it('never leaves the date range: a sum past either end becomes that end', () => {
    expect(correctTimestamp('+275760-09-13T00:00:00Z', '2026-01-01T00:00:00Z', RECEIVED)).toBe('+275760-09-13T00:00:00.000Z');
    expect(correctTimestamp('2026-03-01T10:00:00.000Z', '-271821-04-20T00:00:00Z', RECEIVED)).toBe('+275760-09-13T00:00:00.000Z');
    expect(correctTimestamp('-271821-04-20T00:00:00Z', '+275760-09-13T00:00:00Z', RECEIVED)).toBe('-271821-04-20T00:00:00.000Z');
  });

  it('uses originalTimestamp when there is no timestamp, and the message sentAt before the batch one', () => {
    const m = map(
      { type: 'track', event: 'X', messageId: 'm', userId: 'u', originalTimestamp: '2026-03-01T11:00:00.000Z', sentAt: '2026-03-01T11:00:10.000Z' },
      { sentAt: '2026-03-01T09:00:00.000Z' },
    );
    expect(m.event!.timestamp).toBe('2026-03-01T11:59:50.000Z');
    expect(m.sources.timestamp).toBe('originalTimestamp');
    expect(event({ type: 'track', event: 'X', messageId: 'm', userId: 'u', timestamp: '2026-03-01T11:00:00.000Z' }, { sentAt: '2026-03-01T11:00:00.000Z' }).timestamp).toBe(
      '2026-03-01T12:00:00.000Z',
    );
  });
});

describe('rejections name the Segment field', () => {
  const cipher = new PiiCipher(Buffer.alloc(32, 7));
  const reject = (message: Record<string, unknown>, type?: string) => {
    const m = segmentToRawEvent(message, opts({ type }));
    const v = validateEvent(m.event!, 0, IdentityRules.defaults(), cipher, RECEIVED);
    if (v.ok) throw new Error('expected a rejection');
    return { reason: v.reason, ...segmentRejection(v, m.sources) };
  };

  it.each([
    [{ messageId: 'm', userId: 'u' }, 'track', 'NAME_REQUIRED', 'event'],
    [{ messageId: 'm', userId: 'u', traits: { phone: 'not-a-phone' } }, 'identify', 'INVALID_PHONE', 'traits.phone'],
    [{ messageId: 'm', event: 'X' }, 'track', 'NO_IDENTIFIER', 'userId'],
    [{ messageId: 'm', event: 'X', userId: { id: 1 } }, 'track', 'INVALID_IDENTIFIER', 'userId'],
    [{ messageId: 'm', event: 'X', userId: 'u', originalTimestamp: 'yesterday' }, 'track', 'INVALID_TIMESTAMP', 'originalTimestamp'],
    [{ messageId: 'm', event: 'X', userId: 'u', context: { wechat: { openid: 'o-1' } } }, 'track', 'NAMESPACE_REQUIRED', 'context.wechat.appid'],
    [{ messageId: 'm', event: 'X', userId: 'u', context: { wechat: { unionid: 'un-1' } } }, 'track', 'NAMESPACE_REQUIRED', 'context.wechat.openPlatformId'],
    [{ messageId: 'm', event: 'X', userId: 'u', context: { externalIds: [{ id: 'o', type: 'wechat_openid' }] } }, 'track', 'NAMESPACE_REQUIRED', 'context.externalIds.0.collection'],
    [{ messageId: 'm', userId: 'u', type: 'launch' }, undefined, 'INVALID_EVENT_TYPE', 'type'],
  ])('%j as %s → %s at %s', (message, type, reason, field) => {
    expect(reject(message, type)).toMatchObject({ reason, field });
  });
});

describe('segmentKeyFromHeader', () => {
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  it('reads the Basic username and ignores the password', () => {
    expect(segmentKeyFromHeader(basic('siyu_abc:'))).toBe('siyu_abc');
    expect(segmentKeyFromHeader(basic('siyu_abc:ignored'))).toBe('siyu_abc');
    expect(segmentKeyFromHeader(basic('siyu_abc'))).toBe('siyu_abc');
    expect(segmentKeyFromHeader(basic(':only-password'))).toBeNull();
  });
  it('accepts a Siyu Bearer key too', () => {
    expect(segmentKeyFromHeader('Bearer siyu_abc')).toBe('siyu_abc');
  });
});
