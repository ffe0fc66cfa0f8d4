import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { parse } from 'graphql';
import { bootApp, type TestApp } from '../support/app';
import { createReadKey, ingest } from '../support/api';
import { makeEvent } from '../support/events';
import { collect, wsClient } from '../support/ws';
import { CreateApiKeyDocument, CreateSegmentDocument, CreateTagDocument, type ApiKeyRole, type EventInput } from '../generated/graphql';
import { createLogger } from '../../src/platform/logging';

/**
 * Phones and e-mails in every documented format (docs/identity.md: `13812345678`,
 * `+86 138-1234-5678`, `008613812345678`, `+1 (415) 555-4955`), as strings, JSON numbers, full-width
 * digits and inside free text, under many trait, property and context keys: READ keys without the
 * PII scope and ANALYST keys never receive them (queries, segment export, `profileUpdated`), no
 * traits column stores them in plain text, and the logs never contain them — not even when a
 * database error is logged.
 */

const logLines: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logLines.push(chunk.toString('utf8'));
    done();
  },
});

let t: TestApp;
beforeAll(async () => {
  t = await bootApp(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}, { logger: createLogger('debug', {}, logSink) });
});
afterAll(() => t.stop());

/** Full-width digits (`１３８…`) as ASCII. */
const fw = (s: string) => s.replace(/\d/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));

/** Trait keys that name a phone or an e-mail, each with a value in one documented format: one person each (a person holds at most 2 phones). */
const ALIASES: [string, unknown, { type: string; value: string }][] = [
  ['mobile', 15076740180, { type: 'phone', value: '+8615076740180' }],
  ['phone_number', '008615076740181', { type: 'phone', value: '+8615076740181' }],
  ['Phone', '+86 150-7674-0182', { type: 'phone', value: '+8615076740182' }],
  ['tel', '15076740183', { type: 'phone', value: '+8615076740183' }],
  ['cellphone', fw('15076740184'), { type: 'phone', value: '+8615076740184' }],
  ['手机', '150 7674 0185', { type: 'phone', value: '+8615076740185' }],
  ['电话', '+1 (415) 555-4956', { type: 'phone', value: '+14155554956' }],
  ['Email', 'Wang.Fang@Example.com', { type: 'email', value: 'wang.fang@example.com' }],
  ['e_mail', 'zhao.lei@example.cn', { type: 'email', value: 'zhao.lei@example.cn' }],
  ['mail', 'qian.yu@example.org', { type: 'email', value: 'qian.yu@example.org' }],
  ['邮箱', 'sun.li＠example.net', { type: 'email', value: 'sun.li@example.net' }],
  ['contact', { email: 'zhou.min@example.com' }, { type: 'email', value: 'zhou.min@example.com' }],
  ['contact', { phone: '15076740186', city: '上海' }, { type: 'phone', value: '+8615076740186' }],
];

/** Phones and e-mails under generic keys, whole and in free text. */
const GENERIC_TRAITS = {
  contact_number: 15076740187,
  remark: `联系电话：${fw('15076740188')}`,
  bio: 'US line +1 (415) 555-4957',
  backup: 'li.na@example.com',
  note: 'reach me at zhang.wei@example.cn or tel 008615076740189',
  nested: { deep: ['wu.ting@example.com'] },
  level: 'gold',
};
const GENERIC_PROPERTIES = { contact: 15076740190, note: `联系电话：${fw('15076740191')}`, memo: 'call +1 (415) 555-4958 today', who: 'chen.jie@example.com', sku: 'A-1' };
const GENERIC_CONTEXT = { text: 'tel 008615076740192', touchpoint: 'qr_store_01' };

/** What must never show: each phone's national digits, each e-mail's local part. */
const NEEDLES = [
  ...Array.from({ length: 14 }, (_, i) => `150767401${80 + i}`),
  '4155554955', '4155554956', '4155554957', '4155554958', '4155554959',
  'wang.fang', 'zhao.lei', 'qian.yu', 'sun.li', 'zhou.min', 'li.na', 'zhang.wei', 'wu.ting', 'chen.jie', 'xu.hui',
];

/** The needles in a text, read as a person would: full-width digits as digits, separators ignored. */
function leaked(text: string): string[] {
  const folded = text.replace(/[\uff10-\uff19\uff20]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).toLowerCase();
  const digits = folded.replace(/[\s()-]/g, '');
  return NEEDLES.filter((n) => folded.includes(n) || digits.includes(n));
}

const PROFILE = `query($id: ID!) { profile(id: $id) { id traits { name value } identifiers { type value masked }
  events(first: 20) { edges { node { properties context traits } } } } }`;
type ProfileResult = {
  profile: {
    id: string;
    traits: { name: string; value: unknown }[];
    identifiers: { type: string; value: string; masked: boolean }[];
    events: { edges: { node: { properties: Record<string, unknown> | null; context: Record<string, unknown> | null; traits: Record<string, unknown> | null } }[] };
  };
};

async function keyOf(adminKey: string, role: ApiKeyRole): Promise<string> {
  const r = await t.gql(CreateApiKeyDocument, { input: { role, name: role.toLowerCase() } }, adminKey);
  return r.data!.createApiKey.key;
}

async function workspaceWithPeople() {
  const { workspaceId, adminKey } = await t.newWorkspace('personal data');
  expect((await t.gql(CreateTagDocument, { input: { key: 'pd', name: 'PD', kind: 'MANUAL' } }, adminKey)).errors).toBeUndefined();
  const events: EventInput[] = ALIASES.map(([k, v], i) =>
    makeEvent({ identifiers: [`member_id::alias-${i}`], type: 'identify', name: null, traits: { [k]: v, level: 'gold', tags: ['pd'] } }),
  );
  events.push(
    makeEvent({ identifiers: ['member_id::generic'], type: 'identify', name: null, traits: { ...GENERIC_TRAITS, tags: ['pd'] } }),
    makeEvent({ identifiers: ['member_id::generic'], name: 'Order Completed', properties: { revenue: 10, ...GENERIC_PROPERTIES }, context: GENERIC_CONTEXT }),
  );
  const result = await ingest(t, adminKey, events);
  const ids = result.results.map((r) => r.profileId!);
  return { workspaceId, adminKey, aliasIds: ids.slice(0, ALIASES.length), genericId: ids.at(-1)! };
}

describe('personal data in every documented format', () => {
  it('READ without the PII scope and ANALYST never receive phones or e-mails: profile, profiles, segment export', async () => {
    const { adminKey, aliasIds, genericId } = await workspaceWithPeople();
    const read = await createReadKey(t, adminKey, false);
    const analyst = await keyOf(adminKey, 'ANALYST');

    for (const id of [...aliasIds, genericId]) {
      const r = await t.gql<ProfileResult>(PROFILE, { id }, read);
      expect(r.errors).toBeUndefined();
      expect(leaked(JSON.stringify(r.data))).toEqual([]);
    }
    const generic = (await t.gql<ProfileResult>(PROFILE, { id: genericId }, read)).data!.profile;
    const order = generic.events.edges.map((e) => e.node).find((n) => n.properties?.revenue !== undefined)!;
    expect(order.properties).toMatchObject({ contact: '150****0190', note: '联系电话：150****0191', memo: 'call +141****4958 today', who: 'c***@example.com', sku: 'A-1' });
    expect(order.context).toEqual({ text: 'tel 150****0192', touchpoint: 'qr_store_01' });
    expect(Object.fromEntries(generic.traits.map((x) => [x.name, x.value]))).toMatchObject({ contact_number: '150****0187', backup: 'l***@example.com', level: 'gold' });

    const list = await t.gql(`{ profiles(first: 100) { edges { node { traits { name value } identifiers { value } events(first: 5) { edges { node { properties context traits } } } } } } }`, {}, read);
    expect(list.errors).toBeUndefined();
    expect(leaked(JSON.stringify(list.data))).toEqual([]);

    // Segment export: the same people, masked for READ, refused to ANALYST.
    const seg = await t.gql(CreateSegmentDocument, { input: { key: 'pd', name: 'PD', expression: 'has_tag("pd")' } }, adminKey);
    expect(seg.errors).toBeUndefined();
    expect((await t.gql(`mutation { updateComplianceSettings(input: { consentPolicy: ALLOW_UNLESS_DENIED }) { consentPolicy } }`, {}, adminKey)).errors).toBeUndefined();
    const exported = await t.http().get(`/export/segments/${seg.data!.createSegment.id}?identifiers=phone,email`).set('authorization', `Bearer ${read}`);
    expect(exported.status).toBe(200);
    expect(exported.text.trim().split('\n')).toHaveLength(aliasIds.length + 1);
    expect(exported.text).toContain('150****0180');
    expect(leaked(exported.text)).toEqual([]);

    expect((await t.gql(PROFILE, { id: genericId }, analyst)).errors?.[0].extensions.code).toBe('FORBIDDEN');
    expect((await t.http().get(`/export/segments/${seg.data!.createSegment.id}`).set('authorization', `Bearer ${analyst}`)).status).toBe(403);
  });

  it('no traits column stores them: trait keys naming a phone or e-mail become encrypted identifiers, others are sealed; ADMIN and READ+pii read them back', async () => {
    const { workspaceId, adminKey, aliasIds, genericId } = await workspaceWithPeople();
    const db = t.app.db.dataSource;
    for (const table of ['profiles', 'events']) {
      const rows: { traits: string | null }[] = await db.query(`SELECT traits::text AS traits FROM ${table} WHERE workspace_id = $1`, [workspaceId]);
      expect(rows.length).toBeGreaterThan(0);
      expect(leaked(rows.map((r) => r.traits ?? '').join('\n'))).toEqual([]);
    }
    const readPii = await createReadKey(t, adminKey, true);
    for (const key of [adminKey, readPii]) {
      for (const [i, [name, , expected]] of ALIASES.entries()) {
        const p = (await t.gql<ProfileResult>(PROFILE, { id: aliasIds[i] }, key)).data!.profile;
        expect({ name, identifiers: p.identifiers }).toEqual({ name, identifiers: expect.arrayContaining([{ ...expected, masked: false }]) });
        if (name !== 'contact') expect(p.traits.map((x) => x.name)).not.toContain(name);
      }
      const generic = (await t.gql<ProfileResult>(PROFILE, { id: genericId }, key)).data!.profile;
      const { level, ...personal } = GENERIC_TRAITS;
      expect(Object.fromEntries(generic.traits.map((x) => [x.name, x.value]))).toEqual({ ...personal, level });
      const identify = generic.events.edges.map((e) => e.node).find((n) => n.traits)!;
      expect(identify.traits).toEqual({ ...GENERIC_TRAITS });
    }
    // `contact.city` stays a plain trait next to the phone that became an identifier.
    const withCity = (await t.gql<ProfileResult>(PROFILE, { id: aliasIds.at(-1)! }, adminKey)).data!.profile;
    expect(withCity.traits.find((x) => x.name === 'contact')!.value).toEqual({ city: '上海' });
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM identifiers WHERE workspace_id = $1 AND type IN ('phone', 'email') AND value_enc IS NOT NULL`, [workspaceId]);
    expect(n).toBe(ALIASES.length);

    const exported = await t.gql<{ exportProfile: unknown }>(`query($id: ID!) { exportProfile(id: $id) }`, { id: genericId }, adminKey);
    expect(JSON.stringify(exported.data!.exportProfile)).toContain('li.na@example.com');
  });

  it('profileUpdated pushes masked values to a READ subscriber', async () => {
    const { adminKey, genericId } = await workspaceWithPeople();
    const read = await createReadKey(t, adminKey, false);
    const ws = wsClient(t.url, read);
    await ws.connected;
    const sub = collect<{ profileUpdated: { version: number; profile: unknown } }>(
      ws.client,
      parse(`subscription($id: ID!) { profileUpdated(id: $id) { version profile { traits { name value } identifiers { value }
        events(first: 20) { edges { node { properties context traits } } } } } }`),
      { id: genericId },
    );
    await sub.next(1, 20_000);
    await ingest(t, adminKey, [
      makeEvent({ identifiers: ['member_id::generic'], type: 'identify', name: null, traits: { memo: `手机 ${fw('008615076740193')}`, mobile_backup: 'xu.hui@example.com' } }),
      makeEvent({ identifiers: ['member_id::generic'], properties: { contact: 15076740193, memo: 'call +1 (415) 555-4959' } }),
    ]);
    await sub.next(2, 20_000);
    expect(sub.results.every((r) => r.errors === undefined)).toBe(true);
    expect(JSON.stringify(sub.results.at(-1)!.data)).toContain('150****0193');
    expect(leaked(JSON.stringify(sub.results))).toEqual([]);
    sub.unsubscribe();
    await ws.dispose();
  });

  it('logs never hold them, not even when an unexpected database error is logged', async () => {
    const { workspaceId, adminKey } = await workspaceWithPeople();
    const read = await createReadKey(t, adminKey, false);
    const from = logLines.length;

    // A NUL in a filter value reaches the database as a query parameter.
    const nul = await t.gql(`query($v: JSON!) { profiles(first: 5, filter: { traits: [{ name: "email", equals: $v }] }) { edges { node { id } } } }`, { v: 'xu.hui@example.com\u0000' }, read);
    expect(nul.errors?.[0].extensions.code).toMatch(/INTERNAL_SERVER_ERROR|BAD_USER_INPUT/);

    // A constraint the database enforces fails one statement whose parameters (and the driver's
    // "Failing row contains (…)") hold the event's phones and e-mails.
    const db = t.app.db.dataSource;
    const constraint = `pd_probe_${randomUUID().slice(0, 8)}`;
    await db.query(`ALTER TABLE events ADD CONSTRAINT ${constraint} CHECK (workspace_id <> '${workspaceId}' OR name IS DISTINCT FROM 'Probe Failure')`);
    try {
      const r = await t.gql(
        `mutation($events: [EventInput!]!) { ingestEvents(events: $events) { accepted } }`,
        { events: [makeEvent({ identifiers: ['member_id::probe'], name: 'Probe Failure', properties: { note: 'tel 008615076740189, mail chen.jie@example.com', contact: 15076740190 } })] },
        adminKey,
      );
      expect(r.errors?.[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
      const correlationId = r.errors![0].extensions.correlationId as string;
      const line = logLines.slice(from).find((l) => l.includes(correlationId))!;
      expect(JSON.parse(line)).toMatchObject({ level: 50, msg: 'unexpected error', err: { query: expect.stringContaining('INSERT') } });
    } finally {
      await db.query(`ALTER TABLE events DROP CONSTRAINT ${constraint}`);
    }
    expect(leaked(logLines.join(''))).toEqual([]);
  });
});
