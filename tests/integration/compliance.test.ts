import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { bootAppPerFile } from '../support/app';
import { DAY, ago } from '../support/time';
import { ingest } from '../support/api';
import { makeEvent } from '../support/events';
import { cliActor } from '../../src/modules/compliance';
import { Role } from '../../src/platform/auth';
import {
  AuditLogDocument,
  ComplianceSettingsDocument,
  CreateApiKeyDocument,
  CreateJourneyDocument,
  CreateSegmentDocument,
  CreateTagDocument,
  DeleteJourneyDocument,
  DeleteTagDocument,
  EraseProfileDocument,
  ExportProfileDocument,
  HealthSettingsDocument,
  IdentityRulesDocument,
  JourneysDocument,
  ProfileConsentsDocument,
  ProfileDocument,
  RevokeApiKeyDocument,
  SetConsentDocument,
  SuppressionStatsDocument,
  UpdateComplianceSettingsDocument,
  UpdateHealthSettingsDocument,
  UpdateIdentityRulesDocument,
  UpdateJourneyDocument,
  UpdateSegmentDocument,
  UpdateSegmentThresholdsDocument,
  UpdateStageModelDocument,
  UpdateTagDocument,
  type AuditLogQuery,
} from '../generated/graphql';

const t = bootAppPerFile();

async function keyFor(admin: string, role: 'READ' | 'ANALYST' | 'INGEST', pii = false): Promise<{ id: string; key: string }> {
  const r = await t.gql(CreateApiKeyDocument, { input: { role, name: `${role} key`, pii } }, admin);
  expect(r.errors).toBeUndefined();
  return { id: r.data!.createApiKey.apiKey.id, key: r.data!.createApiKey.key };
}

const consentEvent = (who: string, purpose: unknown, state: unknown, policyVersion: unknown, timestamp: string) =>
  makeEvent({ identifiers: [who], name: 'Consent Updated', properties: { purpose, state, policyVersion }, timestamp });

async function consents(key: string, id: string) {
  const r = await t.gql(ProfileConsentsDocument, { id }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.profile;
}

async function audit(key: string, filter: Record<string, unknown> = {}, first = 100) {
  const r = await t.gql(AuditLogDocument, { filter, first }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.auditLog;
}

describe('consent (PIPL)', () => {
  it('is set over GraphQL (READ) and on ingest (both forms), with history; the latest answer wins', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const who = `member_id::${randomUUID()}`;
    const pid = (await ingest(t, key, [makeEvent({ identifiers: [who], type: 'identify', name: null, timestamp: ago(10) })])).results[0].profileId!;
    const reader = await keyFor(key, 'READ');

    const set = await t.gql(SetConsentDocument, { input: { profileId: pid, purpose: 'MARKETING', state: 'GRANTED', policyVersion: 'v1', source: 'member_page', at: ago(5) } }, reader.key);
    expect(set.errors).toBeUndefined();
    expect(set.data!.setConsent).toMatchObject({ purpose: 'MARKETING', state: 'GRANTED', source: 'member_page', policyVersion: 'v1' });
    for (const role of ['ANALYST', 'INGEST'] as const) {
      const denied = await t.gql(SetConsentDocument, { input: { profileId: pid, purpose: 'MARKETING', state: 'DENIED', policyVersion: 'v1' } }, (await keyFor(key, role)).key);
      expect(denied.errors![0].extensions.code).toBe('FORBIDDEN');
    }

    const withdrawnAt = ago(4);
    const r = await ingest(t, key, [
      consentEvent(who, 'marketing', 'withdrawn', 'v2', withdrawnAt),
      makeEvent({ identifiers: [who], type: 'identify', name: null, traits: { consents: { analytics: 'granted', sensitive_pi: 'DENIED', policyVersion: 'v2' } }, timestamp: ago(3) }),
      // Older than the current answer: kept in the history, does not change the state.
      consentEvent(who, 'marketing', 'granted', 'v0', ago(6)),
    ]);
    expect(r.results.map((x) => x.status)).toEqual(['ACCEPTED', 'ACCEPTED', 'ACCEPTED']);

    const p = await consents(reader.key, pid);
    const byPurpose = Object.fromEntries(p.consents.map((c) => [c.purpose, c]));
    expect(Object.keys(byPurpose).sort()).toEqual(['ANALYTICS', 'MARKETING', 'SENSITIVE_PI']);
    expect(byPurpose.MARKETING).toMatchObject({ state: 'WITHDRAWN', source: 'ingest:wechat_mp', policyVersion: 'v2' });
    expect(new Date(byPurpose.MARKETING.at).toISOString()).toBe(withdrawnAt);
    expect(byPurpose.ANALYTICS).toMatchObject({ state: 'GRANTED', policyVersion: 'v2' });
    expect(byPurpose.SENSITIVE_PI).toMatchObject({ state: 'DENIED' });
    // Every answer is in the history, newest recorded first.
    expect(p.consentHistory).toHaveLength(5);
    expect(p.consentHistory.map((h) => [h.purpose, h.state, h.policyVersion])).toEqual([
      ['MARKETING', 'GRANTED', 'v0'],
      ['SENSITIVE_PI', 'DENIED', 'v2'],
      ['ANALYTICS', 'GRANTED', 'v2'],
      ['MARKETING', 'WITHDRAWN', 'v2'],
      ['MARKETING', 'GRANTED', 'v1'],
    ]);
    expect(p.consentHistory[4].actorKeyId).toBe(reader.id);
    expect(p.consentHistory[3].eventMessageId).toBe(r.results[0].messageId);
  });

  it('a malformed consent payload rejects that one event with a field path; the rest of the batch lands', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const who = `member_id::${randomUUID()}`;
    const r = await ingest(t, key, [
      consentEvent(who, 'spam', 'granted', 'v1', ago(1)),
      consentEvent(who, 'marketing', 'maybe', 'v1', ago(1)),
      consentEvent(who, 'marketing', 'granted', '', ago(1)),
      makeEvent({ identifiers: [who], type: 'identify', name: null, traits: { consents: { marketing: 'yes' } } }),
      makeEvent({ identifiers: [who], type: 'identify', name: null, traits: { consents: { newsletter: 'granted' } } }),
      makeEvent({ identifiers: [who], type: 'identify', name: null, traits: { consents: 'granted' } }),
      makeEvent({ identifiers: [who] }),
    ], { rejected: 6 });
    expect(r.results.map((x) => [x.status, x.error?.reason ?? null, x.error?.field ?? null])).toEqual([
      ['REJECTED', 'INVALID_CONSENT', 'properties.purpose'],
      ['REJECTED', 'INVALID_CONSENT', 'properties.state'],
      ['REJECTED', 'INVALID_CONSENT', 'properties.policyVersion'],
      ['REJECTED', 'INVALID_CONSENT', 'traits.consents.marketing'],
      ['REJECTED', 'INVALID_CONSENT', 'traits.consents.newsletter'],
      ['REJECTED', 'INVALID_CONSENT', 'traits.consents'],
      ['ACCEPTED', null, null],
    ]);
    expect((await consents(key, r.results[6].profileId!)).consentHistory).toEqual([]);
  });

  it('consents follow a merge to the surviving profile', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const a = `member_id::${randomUUID()}`;
    const b = `wechat_unionid:wx_open:${randomUUID()}`;
    const pa = (await ingest(t, key, [consentEvent(a, 'analytics', 'granted', 'v1', ago(3))])).results[0].profileId!;
    await ingest(t, key, [consentEvent(b, 'marketing', 'granted', 'v1', ago(2))]);
    const merged = await ingest(t, key, [makeEvent({ identifiers: [a, b], timestamp: ago(1) })]);
    expect(merged.results[0].profileId).toBe(pa);
    const p = await consents(key, pa);
    expect(p.consents.map((c) => [c.purpose, c.state]).sort()).toEqual([
      ['ANALYTICS', 'GRANTED'],
      ['MARKETING', 'GRANTED'],
    ]);
    expect(p.consentHistory).toHaveLength(2);
  });
});

describe('consent enforcement', () => {
  async function segmentOfThree(key: string) {
    expect((await t.gql(CreateTagDocument, { input: { key: 'vip', name: 'VIP', kind: 'MANUAL' } }, key)).errors).toBeUndefined();
    const seg = await t.gql(CreateSegmentDocument, { input: { key: 'vips', name: 'VIPs', expression: 'has_tag("vip")' } }, key);
    expect(seg.errors).toBeUndefined();
    const ids: Record<string, string> = {};
    for (const name of ['granted', 'denied', 'silent']) {
      const who = `member_id::${name}-${randomUUID()}`;
      const events = [makeEvent({ identifiers: [who], type: 'identify', name: null, traits: { tags: ['vip'] }, timestamp: ago(2) })];
      if (name !== 'silent') events.push(consentEvent(who, 'marketing', name, 'v1', ago(1)));
      ids[name] = (await ingest(t, key, events)).results[0].profileId!;
    }
    return { segmentId: seg.data!.createSegment.id, ids };
  }

  const exported = async (segmentId: string, key: string, purpose?: string) => {
    const res = await t.http().get(`/export/segments/${segmentId}${purpose ? `?purpose=${purpose}` : ''}`).set('authorization', `Bearer ${key}`);
    return { status: res.status, ids: res.status === 200 ? res.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).profileId as string).sort() : [], body: res.body };
  };

  it('segment exports leave out people without consent (REQUIRE_GRANTED by default, ALLOW_UNLESS_DENIED on request)', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const { segmentId, ids } = await segmentOfThree(key);
    const reader = await keyFor(key, 'READ');
    expect((await t.gql(ComplianceSettingsDocument, {}, reader.key)).data!.complianceSettings).toEqual({ consentPolicy: 'REQUIRE_GRANTED', eventRetentionDays: null });

    expect((await exported(segmentId, reader.key)).ids).toEqual([ids.granted]);
    // Other purposes are checked on their own: nobody granted analytics.
    expect((await exported(segmentId, reader.key, 'analytics')).ids).toEqual([]);
    const bad = await exported(segmentId, reader.key, 'spam');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].extensions.reason).toBe('UNKNOWN_PURPOSE');

    const u = await t.gql(UpdateComplianceSettingsDocument, { input: { consentPolicy: 'ALLOW_UNLESS_DENIED' } }, key);
    expect(u.data!.updateComplianceSettings).toEqual({ consentPolicy: 'ALLOW_UNLESS_DENIED', eventRetentionDays: null });
    expect((await exported(segmentId, reader.key)).ids).toEqual([ids.granted, ids.silent].sort());

    // A withdrawal is honoured at once.
    await t.gql(SetConsentDocument, { input: { profileId: ids.granted, purpose: 'MARKETING', state: 'WITHDRAWN', policyVersion: 'v1' } }, reader.key);
    expect((await exported(segmentId, reader.key)).ids).toEqual([ids.silent]);

    const rows = (await audit(key, { action: 'segment.export' })).entries;
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatchObject({ targetType: 'segment', targetId: segmentId, actorKeyId: reader.id, actorRole: 'READ', details: { purpose: 'marketing', exported: 1, unmasked: false } });
  });

  it('a journey trigger for a person without marketing consent does not fire; consent given in the same batch counts', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const j = await t.gql(CreateJourneyDocument, { input: { name: '下单', steps: [{ key: 'bought', name: '下单', match: { event: 'Order Completed' }, trigger: true }] } }, key);
    expect(j.errors).toBeUndefined();
    const yes = `member_id::${randomUUID()}`;
    const no = `member_id::${randomUUID()}`;
    const r = await ingest(t, key, [
      consentEvent(yes, 'marketing', 'granted', 'v1', ago(1)),
      makeEvent({ identifiers: [yes], name: 'Order Completed', properties: { revenue: 10 }, timestamp: ago(1, 1000) }),
      makeEvent({ identifiers: [no], name: 'Order Completed', properties: { revenue: 10 }, timestamp: ago(1, 1000) }),
    ]);
    const [pYes, pNo] = [r.results[1].profileId!, r.results[2].profileId!];
    const rows: { profile_id: string; vetoed: boolean }[] = await t.app.db.dataSource.query(
      `SELECT profile_id, vetoed FROM journey_triggers WHERE workspace_id = $1 ORDER BY vetoed`,
      [ws],
    );
    expect(rows).toEqual([
      { profile_id: pYes, vetoed: false },
      { profile_id: pNo, vetoed: true },
    ]);
  });
});

/** A person with something in every part: merged profiles, phone, traits, tags, stage, health, consents, relations, journey state. */
async function richPerson(key: string) {
  const member = `member_id::${randomUUID()}`;
  const union = `wechat_unionid:wx_open:${randomUUID()}`;
  const phone = `138${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  const friend = `member_id::friend-${randomUUID()}`;
  expect((await t.gql(CreateTagDocument, { input: { key: 'vip', name: 'VIP会员', kind: 'MANUAL' } }, key)).errors).toBeUndefined();
  expect((await t.gql(CreateJourneyDocument, { input: { name: '浏览', steps: [{ key: 'viewed', name: '浏览', match: { event: 'Product Viewed' } }] } }, key)).errors).toBeUndefined();
  const first = await ingest(t, key, [
    makeEvent({ identifiers: [member], type: 'identify', name: null, traits: { city: '上海', tags: ['vip'], phone }, timestamp: ago(3) }),
    makeEvent({ identifiers: [union], name: 'Product Viewed', timestamp: ago(3, 1000) }),
  ]);
  const pid = first.results[0].profileId!;
  const other = first.results[1].profileId!;
  const later = await ingest(t, key, [
    makeEvent({ identifiers: [member, union], name: 'Order Completed', properties: { revenue: 88 }, timestamp: ago(2) }),
    consentEvent(member, 'marketing', 'granted', 'v1', ago(2, 1000)),
    makeEvent({ identifiers: [friend], name: 'Invite Accepted', properties: { inviter: { type: 'member_id', value: member.split('::')[1] } }, timestamp: ago(1) }),
  ]);
  expect(later.results.map((x) => x.status)).toEqual(['ACCEPTED', 'ACCEPTED', 'ACCEPTED']);
  expect(later.results[0].profileId).toBe(pid);
  return { pid, mergedId: other, friendId: later.results[2].profileId!, member, union, phone, messageIds: [...first.results, ...later.results].map((x) => x.messageId!) };
}

describe('rights of the person', () => {
  it('exportProfile gives every part of the person as one JSON document, identifiers decrypted; ADMIN only; audited', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const p = await richPerson(key);
    const reader = await keyFor(key, 'READ', true);
    expect((await t.gql(ExportProfileDocument, { id: p.pid }, reader.key)).errors![0].extensions.code).toBe('FORBIDDEN');

    // A merged id exports the whole person.
    const r = await t.gql(ExportProfileDocument, { id: p.mergedId }, key);
    expect(r.errors).toBeUndefined();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document inspected part by part
    const doc = r.data!.exportProfile as Record<string, any>;
    expect(doc.profileId).toBe(p.pid);
    expect(doc.mergedProfileIds).toEqual([p.mergedId]);
    expect(doc.profile).toMatchObject({ id: p.pid, order_count: 1 });
    expect(doc.traits.city.value).toBe('上海');
    expect(doc.identifiers.map((i: { type: string; value: string }) => `${i.type}:${i.value}`).sort()).toEqual(
      [`member_id:${p.member.split('::')[1]}`, `phone:+86${p.phone}`, `wechat_unionid:${p.union.split(':')[2]}`].sort(),
    );
    expect(doc.events.map((e: { message_id: string }) => e.message_id).sort()).toEqual(p.messageIds.slice(0, 4).sort());
    expect(doc.tags).toEqual(expect.arrayContaining([expect.objectContaining({ tag_key: 'vip', name: 'VIP会员', source: 'ingest' }), expect.objectContaining({ tag_key: expect.stringMatching(/^stage:/) })]));
    expect(doc.stage).toMatchObject({ profile_id: p.pid, stage: expect.any(String) });
    expect(doc.health).toMatchObject({ profile_id: p.pid, score: expect.any(Number) });
    expect(doc.consents).toEqual([expect.objectContaining({ purpose: 'marketing', state: 'granted', policy_version: 'v1' })]);
    expect(doc.records.consent_history).toHaveLength(1);
    expect(doc.relations).toEqual([expect.objectContaining({ kind: 'invited', from_profile_id: p.pid, to_profile_id: p.friendId })]);
    expect(doc.records.journey_states).toEqual([expect.objectContaining({ profile_id: p.pid })]);
    expect(doc.records.stage_transitions.length).toBeGreaterThan(0);
    expect(doc.records.identity_merges).toEqual([expect.objectContaining({ survivor_id: p.pid, merged_id: p.mergedId })]);
    expect(doc.mergedProfiles).toEqual([expect.objectContaining({ id: p.mergedId, merged_into: p.pid })]);

    const rows = (await audit(key, { action: 'profile.export' })).entries;
    expect(rows).toEqual([expect.objectContaining({ targetType: 'profile', targetId: p.pid, actorRole: 'ADMIN' })]);
    expect(JSON.stringify(rows[0].details)).not.toContain(p.phone);
  });

  it('eraseProfile leaves no row about the person in any table but kpi_* and the audit log; replays are REJECTED SUPPRESSED and create nobody', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const p = await richPerson(key);
    const db = t.app.db.dataSource;
    // A stand-in for the KPI rollups another module adds: erasure must never delete from kpi_*.
    await db.query(`CREATE TABLE IF NOT EXISTS kpi_compliance_probe (workspace_id uuid NOT NULL, profile_id uuid NOT NULL, n int NOT NULL)`);
    await db.query(`INSERT INTO kpi_compliance_probe VALUES ($1, $2, 1)`, [ws, p.pid]);
    try {
      const reader = await keyFor(key, 'READ', true);
      expect((await t.gql(EraseProfileDocument, { id: p.pid }, reader.key)).errors![0].extensions.code).toBe('FORBIDDEN');
      const exportedBefore = await t.gql(ExportProfileDocument, { id: p.pid }, key);
      const events = (exportedBefore.data!.exportProfile as { events: { message_id: string }[] }).events.length;

      const r = await t.gql(EraseProfileDocument, { id: p.mergedId }, key);
      expect(r.errors).toBeUndefined();
      const e = r.data!.eraseProfile;
      expect(e.profileId).toBe(p.pid);
      expect(e.profileIds.sort()).toEqual([p.pid, p.mergedId].sort());
      expect(e.suppressedIdentifiers).toBe(3);
      const deleted = Object.fromEntries(e.deleted.map((d) => [d.table, d.rows]));
      expect(deleted).toMatchObject({ profiles: 2, identifiers: 3, events, relations: 1, consents: 1, profile_tags: 3, profile_health: 1, profile_stages: 1, journey_states: 1 });
      expect(deleted.kpi_compliance_probe).toBeUndefined();

      // Every table with a profile column, found in the catalogue (new tables are covered too).
      const ids = [p.pid, p.mergedId];
      const tables: { table_name: string; cols: string[] }[] = await db.query(
        `SELECT table_name, array_agg(column_name::text) AS cols FROM information_schema.columns
         WHERE table_schema = current_schema() AND column_name IN ('profile_id', 'from_profile_id', 'to_profile_id')
           AND left(table_name, 4) <> 'kpi_' AND table_name <> 'audit_log'
         GROUP BY table_name`,
      );
      expect(tables.map((x) => x.table_name)).toEqual(expect.arrayContaining(['events', 'identifiers', 'relations', 'consents', 'consent_history', 'profile_tags', 'journey_states']));
      for (const tb of tables) {
        const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM "${tb.table_name}" WHERE ${tb.cols.map((c) => `"${c}" = ANY($1::uuid[])`).join(' OR ')}`, [ids]);
        if (n) throw new Error(`${tb.table_name} still holds ${n} rows of the erased person`);
      }
      expect((await db.query(`SELECT count(*)::int AS n FROM profiles WHERE id = ANY($1::uuid[])`, [ids]))[0].n).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n FROM kpi_compliance_probe WHERE profile_id = $1`, [p.pid]))[0].n).toBe(1);
      // The friend stays; the person is gone for reads.
      expect((await t.gql(ProfileDocument, { id: p.friendId }, key)).errors).toBeUndefined();
      expect((await t.gql(ProfileDocument, { id: p.pid }, key)).errors![0].extensions.code).toBe('NOT_FOUND');

      // The suppression list holds keyed hashes, no plain value.
      const list: { id_hash: string }[] = await db.query(`SELECT id_hash FROM suppressed_identifiers WHERE workspace_id = $1`, [ws]);
      expect(list).toHaveLength(3);
      for (const v of [p.member.split('::')[1], p.union.split(':')[2], p.phone]) expect(JSON.stringify(list)).not.toContain(v);

      const profilesBefore = (await db.query(`SELECT count(*)::int AS n FROM profiles WHERE workspace_id = $1`, [ws]))[0].n;
      const replay = await ingest(t, key, [
        // The same old event again (same messageId), and a late one with a new messageId and the phone only.
        makeEvent({ messageId: p.messageIds[0], identifiers: [p.member], type: 'identify', name: null, traits: { city: '上海' }, timestamp: ago(3) }),
        makeEvent({ identifiers: [], traits: { phone: p.phone }, type: 'identify', name: null }),
        // Another person's event naming the erased one as inviter: it lands, but links nobody.
        makeEvent({ identifiers: [`member_id::${randomUUID()}`], name: 'Invite Accepted', properties: { inviter: { type: 'member_id', value: p.member.split('::')[1] } } }),
      ], { rejected: 2 });
      expect(replay.results.map((x) => [x.status, x.error?.reason ?? null, x.profileId === null])).toEqual([
        ['REJECTED', 'SUPPRESSED', true],
        ['REJECTED', 'SUPPRESSED', true],
        ['ACCEPTED', null, false],
      ]);
      expect(replay.results[0].error!.field).toBe('identifiers');
      expect((await db.query(`SELECT count(*)::int AS n FROM profiles WHERE workspace_id = $1`, [ws]))[0].n).toBe(profilesBefore + 1);
      expect((await db.query(`SELECT count(*)::int AS n FROM relations WHERE workspace_id = $1 AND to_profile_id = $2`, [ws, replay.results[2].profileId]))[0].n).toBe(0);
      expect((await t.gql(SuppressionStatsDocument, {}, key)).data!.suppressionStats).toMatchObject({ identifiers: 3, rejectedEvents: 2 });

      const rows = (await audit(key, { action: 'profile.erase' })).entries;
      expect(rows).toEqual([expect.objectContaining({ id: e.auditId, targetType: 'profile', targetId: p.pid, actorRole: 'ADMIN' })]);
      const details = JSON.stringify(rows[0].details);
      for (const v of [p.member.split('::')[1], p.union.split(':')[2], p.phone, '上海']) expect(details).not.toContain(v);
      // Erasing again: nobody there.
      expect((await t.gql(EraseProfileDocument, { id: p.pid }, key)).errors![0].extensions.code).toBe('NOT_FOUND');
    } finally {
      await db.query(`DROP TABLE kpi_compliance_probe`);
    }
  });
});

describe('retention', () => {
  it('the sweep purges raw events older than the retention period in bounded batches and keeps newer ones and the aggregates', async () => {
    const { workspaceId: ws, adminKey: key } = await t.newWorkspace();
    const who = `member_id::${randomUUID()}`;
    const r = await ingest(t, key, [
      ...[40, 39, 38, 37, 36].map((d) => makeEvent({ identifiers: [who], name: 'Order Completed', properties: { revenue: 10 }, timestamp: ago(d) })),
      ...[5, 1].map((d) => makeEvent({ identifiers: [who], name: 'Product Viewed', timestamp: ago(d) })),
    ]);
    const pid = r.results[0].profileId!;
    const step = () => t.app.services.compliance.retentionStep(ws, new Date(), 2);
    expect(await step()).toBe(0); // kept forever by default

    const bad = await t.gql(UpdateComplianceSettingsDocument, { input: { eventRetentionDays: 0 } }, key);
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_COMPLIANCE_SETTINGS' });
    const ok = await t.gql(UpdateComplianceSettingsDocument, { input: { eventRetentionDays: 30 } }, key);
    expect(ok.data!.updateComplianceSettings).toEqual({ consentPolicy: 'REQUIRE_GRANTED', eventRetentionDays: 30 });

    expect([await step(), await step(), await step(), await step()]).toEqual([2, 2, 1, 0]);
    const left: { message_id: string }[] = await t.app.db.dataSource.query(`SELECT message_id FROM events WHERE workspace_id = $1 ORDER BY ts`, [ws]);
    expect(left.map((x) => x.message_id)).toEqual(r.results.slice(5).map((x) => x.messageId));
    // Aggregates stay: the person still has five orders.
    const [prof] = await t.app.db.dataSource.query(`SELECT order_count, event_count FROM profiles WHERE id = $1`, [pid]);
    expect(prof).toEqual({ order_count: 5, event_count: 7 });

    // Omitted keeps the value; explicit null keeps events forever again.
    expect((await t.gql(UpdateComplianceSettingsDocument, { input: { consentPolicy: 'REQUIRE_GRANTED' } }, key)).data!.updateComplianceSettings.eventRetentionDays).toBe(30);
    expect((await t.gql(UpdateComplianceSettingsDocument, { input: { eventRetentionDays: null } }, key)).data!.updateComplianceSettings.eventRetentionDays).toBeNull();
    expect(t.app.services.sweepSteps.map((s) => s.name)).toContain('compliance');
  });
});

describe('audit log', () => {
  it('records unmasked reads, exports, erasures, key changes and rule changes; newest first, filtered, paginated; ADMIN only', async () => {
    const { adminKey: key } = await t.newWorkspace();
    const me = (await t.gql<{ me: { apiKeyId: string } }>(`{ me { apiKeyId } }`, {}, key)).data!.me.apiKeyId;
    const phone = `139${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
    const pid = (await ingest(t, key, [makeEvent({ identifiers: [`member_id::${randomUUID()}`], type: 'identify', name: null, traits: { phone } })])).results[0].profileId!;

    // Reads: masked (READ without pii) is not audited; unmasked (READ with pii) is, once per profile per operation.
    const masked = await keyFor(key, 'READ');
    const unmasked = await keyFor(key, 'READ', true);
    await t.gql(ProfileDocument, { id: pid }, masked.key);
    const read = await request(t.url).post('/graphql').set('authorization', `Bearer ${unmasked.key}`).set('x-request-id', 'req-audit-1').send({
      query: `query($id: ID!) { a: profile(id: $id) { identifiers { value } } b: profile(id: $id) { identifiers { value } } }`,
      variables: { id: pid },
    });
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data.a.identifiers.map((i: { value: string }) => i.value)).toContain(`+86${phone}`);

    // Key changes.
    const analyst = await keyFor(key, 'ANALYST');
    expect((await t.gql(RevokeApiKeyDocument, { id: analyst.id }, key)).errors).toBeUndefined();
    // Rule changes.
    const rules = (await t.gql(IdentityRulesDocument, {}, key)).data!.identityRules;
    const must = (r: { errors?: unknown }) => expect(r.errors).toBeUndefined();
    must(await t.gql(UpdateIdentityRulesDocument, { input: { types: rules.types.map((x) => ({ type: x.type, priority: x.priority, maxPerProfile: x.maxPerProfile })), blockedValues: rules.blockedValues, blockedPatterns: rules.blockedPatterns } }, key));
    must(await t.gql(CreateTagDocument, { input: { key: 'gold', name: '金卡', kind: 'MANUAL' } }, key));
    must(await t.gql(UpdateTagDocument, { key: 'gold', input: { name: '金卡会员' } }, key));
    must(await t.gql(DeleteTagDocument, { key: 'gold' }, key));
    const seg = await t.gql(CreateSegmentDocument, { input: { key: 'buyers', name: '买家', expression: 'order_count >= 1' } }, key);
    must(seg);
    must(await t.gql(UpdateSegmentDocument, { id: seg.data!.createSegment.id, input: { name: '下单用户' } }, key));
    must(await t.gql(UpdateSegmentThresholdsDocument, { input: { newDays: 10 } }, key));
    must(await t.gql(UpdateStageModelDocument, { input: { key: 'simple', name: '简单', stages: [{ key: 'seen', name: '见过', enter: { kind: 'first_event' } }] } }, key));
    const j = await t.gql(CreateJourneyDocument, { input: { name: 'J', steps: [{ key: 's', name: 'S', match: { event: 'Product Viewed' } }] } }, key);
    must(j);
    must(await t.gql(UpdateJourneyDocument, { id: j.data!.createJourney.id, input: { name: 'J2' } }, key));
    must(await t.gql(DeleteJourneyDocument, { id: j.data!.createJourney.id }, key));
    must(await t.gql(UpdateHealthSettingsDocument, { input: { spendScale: 600 } }, key));
    must(await t.gql(UpdateComplianceSettingsDocument, { input: { consentPolicy: 'ALLOW_UNLESS_DENIED' } }, key));
    must(await t.gql(ExportProfileDocument, { id: pid }, key));
    must(await t.gql(EraseProfileDocument, { id: pid }, key));
    expect((await t.gql(HealthSettingsDocument, {}, key)).errors).toBeUndefined();

    const all = (await audit(key)).entries;
    expect(all.map((a) => a.action).reverse()).toEqual([
      'api_key.create',
      'api_key.create',
      'profile.read_unmasked',
      'api_key.create',
      'api_key.revoke',
      'identity_rules.update',
      'tag.create',
      'tag.update',
      'tag.delete',
      'segment.create',
      'segment.update',
      'segment_thresholds.update',
      'stage_model.update',
      'journey.create',
      'journey.update',
      'journey.delete',
      'health_settings.update',
      'compliance_settings.update',
      'profile.export',
      'profile.erase',
    ]);
    const unmaskedRead = all.find((a) => a.action === 'profile.read_unmasked')!;
    expect(unmaskedRead).toMatchObject({ targetType: 'profile', targetId: pid, actorKeyId: unmasked.id, actorRole: 'READ', requestId: 'req-audit-1' });
    expect(all.find((a) => a.action === 'api_key.revoke')).toMatchObject({ targetId: analyst.id, actorKeyId: me, details: { role: 'analyst' } });
    expect(JSON.stringify(all)).not.toContain(phone);
    expect(all.every((a, i) => i === 0 || Number(a.id) < Number(all[i - 1].id))).toBe(true);

    // Filters and pagination.
    expect((await audit(key, { targetId: pid })).entries.map((a) => a.action)).toEqual(['profile.erase', 'profile.export', 'profile.read_unmasked']);
    expect((await audit(key, { actorKeyId: unmasked.id })).entries).toHaveLength(1);
    expect((await audit(key, { action: 'api_key.create' })).entries).toHaveLength(3);
    expect((await audit(key, { from: new Date(Date.now() + DAY).toISOString() })).entries).toHaveLength(0);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: AuditLogQuery['auditLog'] = (await t.gql(AuditLogDocument, { first: 7, after }, key)).data!.auditLog;
      seen.push(...page.entries.map((x) => x.id));
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    expect(seen).toEqual(all.map((a) => a.id));
    const badCursor = await t.gql(AuditLogDocument, { after: 'nope' }, key);
    expect(badCursor.errors![0].extensions.code).toBe('BAD_USER_INPUT');

    for (const k of [unmasked.key, (await keyFor(key, 'ANALYST')).key]) {
      expect((await t.gql(AuditLogDocument, {}, k)).errors![0].extensions.code).toBe('FORBIDDEN');
      expect((await t.gql(SuppressionStatsDocument, {}, k)).errors![0].extensions.code).toBe('FORBIDDEN');
      expect((await t.gql(UpdateComplianceSettingsDocument, { input: { consentPolicy: 'REQUIRE_GRANTED' } }, k)).errors![0].extensions.code).toBe('FORBIDDEN');
    }
  });
});

describe('audit in the change\'s transaction', () => {
  const journey = { name: 'audit tx', steps: [{ key: 'a', name: 'A', match: { event: 'Order Completed' } }] };

  /** Fails, for `ws` only, any insert into `table`: at once, or (deferred) at commit, after the audit row. */
  async function failing<T>(table: string, ws: string, deferred: boolean, fn: () => Promise<T>): Promise<T> {
    const q = (sql: string) => t.app.db.dataSource.query(sql);
    await q(`CREATE FUNCTION audit_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.workspace_id = '${ws}' THEN RAISE EXCEPTION 'audit test: forced failure'; END IF; RETURN NEW; END $$`);
    await q(
      deferred
        ? `CREATE CONSTRAINT TRIGGER audit_test_fail AFTER INSERT ON ${table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_test_fail()`
        : `CREATE TRIGGER audit_test_fail BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_test_fail()`,
    );
    try {
      return await fn();
    } finally {
      await q(`DROP TRIGGER audit_test_fail ON ${table}`);
      await q(`DROP FUNCTION audit_test_fail()`);
    }
  }

  it('a mutation whose transaction fails leaves no audit row, and a failed audit write leaves no change; a successful one has its row', async () => {
    const { workspaceId, adminKey: key } = await t.newWorkspace();
    // The journey is inserted and audited, then the commit fails: neither remains.
    const atCommit = await failing('journeys', workspaceId, true, () => t.gql(CreateJourneyDocument, { input: journey }, key));
    expect(atCommit.errors![0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
    // The audit row cannot be written: the journey is not created either (no change without its row).
    const noAudit = await failing('audit_log', workspaceId, false, () => t.gql(CreateJourneyDocument, { input: journey }, key));
    expect(noAudit.errors![0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
    expect((await t.gql(JourneysDocument, {}, key)).data!.journeys).toEqual([]);
    expect((await audit(key, { action: 'journey.create' })).entries).toEqual([]);

    const ok = await t.gql(CreateJourneyDocument, { input: journey }, key);
    expect(ok.errors).toBeUndefined();
    const me = (await t.gql<{ me: { apiKeyId: string } }>(`{ me { apiKeyId } }`, {}, key)).data!.me.apiKeyId;
    expect((await audit(key, { action: 'journey.create' })).entries).toEqual([
      expect.objectContaining({ targetType: 'journey', targetId: ok.data!.createJourney.id, actorKeyId: me, actorRole: 'ADMIN', details: { name: 'audit tx' } }),
    ]);
  });

  it('a key created as `siyu key create` does (the CLI actor) has its audit row, read through auditLog by an ADMIN key', async () => {
    const { workspaceId, adminKey: key } = await t.newWorkspace();
    const actor = cliActor(workspaceId);
    const { apiKey } = await t.app.services.workspaces.createApiKey(actor, { role: Role.INGEST, name: 'cli ingest' });
    expect((await audit(key, { action: 'api_key.create' })).entries).toEqual([
      expect.objectContaining({ targetType: 'api_key', targetId: apiKey.id, actorKeyId: null, actorRole: null, requestId: actor.requestId, details: { role: 'ingest', pii: false, name: 'cli ingest' } }),
    ]);
    expect(actor.requestId).toMatch(/^cli:./);
  });
});
