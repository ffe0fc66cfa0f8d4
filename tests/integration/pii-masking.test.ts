import { bootApp, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { maskPersonalJson } from '../../src/modules/identities';
import { CreateApiKeyDocument, IngestDocument } from '../generated/graphql';

/**
 * Personal data inside free-form JSON (event properties, context, traits) is masked for callers
 * without the PII scope, like phones and e-mails among identifiers; ADMIN and READ+pii see it.
 */
let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

const PROFILE = `query($id: ID!) { profile(id: $id) { traits { name value } events(first: 5) { edges { node { properties context traits } } } } }`;

describe('masking personal data inside event JSON and traits', () => {
  it('masks for READ, shows to ADMIN and READ+pii', async () => {
    const { adminKey } = await t.newWorkspace('masking');
    const key = async (pii: boolean) => (await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: `read ${pii}`, pii } }, adminKey)).data!.createApiKey.key;
    const [read, readPii] = [await key(false), await key(true)];
    const ingest = await t.gql(
      IngestDocument,
      {
        events: [
          makeEvent({
            identifiers: ['member_id::MASK-1'],
            name: 'Order Completed',
            properties: { revenue: 99, receiverPhone: '138 1234 5678', note: 'call 13912345678 or mail Li.Lei@Example.com', shipping: { address: '上海市浦东新区世纪大道100号', city: '上海' }, idCard: '110101199003071234', sku: 'A-1' },
            context: { ip: '10.1.2.3', touchpoint: 'qr_store_01' },
          }),
          makeEvent({ identifiers: ['member_id::MASK-1'], type: 'identify', name: null, traits: { home_address: '北京市朝阳区', level: 'gold' } }),
        ],
      },
      adminKey,
    );
    expect(ingest.data!.ingestEvents.accepted).toBe(2);
    const id = ingest.data!.ingestEvents.results[0].profileId!;
    type P = { profile: { traits: { name: string; value: unknown }[]; events: { edges: { node: { properties: Record<string, unknown> | null; context: Record<string, unknown> | null } }[] } } };
    const as = async (k: string) => {
      const r = await t.gql<P>(PROFILE, { id }, k);
      expect(r.errors).toBeUndefined();
      const order = r.data!.profile.events.edges.map((e) => e.node).find((n) => n.properties?.revenue !== undefined)!;
      return { order, traits: Object.fromEntries(r.data!.profile.traits.map((x) => [x.name, x.value])) };
    };

    const masked = await as(read);
    const text = JSON.stringify(masked);
    for (const secret of ['1234 5678', '13912345678', 'Li.Lei', 'li.lei@', '世纪大道', '110101199003071234', '10.1.2.3', '朝阳区']) expect(text).not.toContain(secret);
    expect(masked.order.properties).toMatchObject({ revenue: 99, sku: 'A-1', receiverPhone: '138****5678', idCard: '110***********1234' });
    expect(masked.order.properties!.note).toBe('call 139****5678 or mail l***@example.com');
    expect(masked.order.context).toMatchObject({ touchpoint: 'qr_store_01' });
    expect(masked.traits).toMatchObject({ level: 'gold' });

    for (const k of [adminKey, readPii]) {
      const plain = await as(k);
      expect(plain.order.properties).toMatchObject({ receiverPhone: '138 1234 5678', idCard: '110101199003071234', shipping: { address: '上海市浦东新区世纪大道100号' } });
      expect(plain.traits).toMatchObject({ home_address: '北京市朝阳区' });
    }
  });

  it('maskPersonalJson leaves other data alone', () => {
    expect(maskPersonalJson({ sku: 'A-1', price: 19.9, tags: ['vip'], nested: { n: 1 } })).toEqual({ sku: 'A-1', price: 19.9, tags: ['vip'], nested: { n: 1 } });
    expect(maskPersonalJson({ contact: { mobile: 13800138000 } })).toEqual({ contact: { mobile: '***' } });
    expect(maskPersonalJson('+14155552671')).toBe('+141****2671');
  });
});
