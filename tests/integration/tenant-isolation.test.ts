import { bootAppPerFile } from '../support/app';
import { probeOperations, seedProbeWorkspace, type ProbeTargets } from '../support/schema-probe';
import { CreateApiKeyDocument } from '../generated/graphql';

/**
 * Tenant isolation, generated from the schema: every query and mutation is called with workspace
 * A's admin key and workspace B's ids and keys. Nothing of B may come back, and B must be unchanged.
 * New fields are covered automatically; an argument kind the generator cannot fill fails the test.
 */
const t = bootAppPerFile();

async function seedB(): Promise<{ key: string; targets: ProbeTargets; secrets: string[] }> {
  const b = await seedProbeWorkspace(t, '品牌B-secret-workspace', {
    tag: { key: 'b_secret_tag', name: 'B秘密' },
    member: 'B-MEMBER-1',
    unionid: 'B-UNION-1',
    phone: '13700001111',
    revenue: 9999,
  });
  const key = b.adminKey;
  const k = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'b reader' } }, key);
  const apiKeyId = k.data!.createApiKey.apiKey.id;
  const pid = b.firstProfileId;
  return {
    key,
    targets: { profileId: pid, mergeId: b.mergeId, segmentId: b.segmentId, apiKeyId, tagKey: 'b_secret_tag', memberValue: 'B-MEMBER-1' },
    secrets: [b.workspaceId, pid, b.mergedId, 'B-MEMBER-1', 'B-UNION-1', '13700001111', '品牌B-secret-workspace', 'B秘密', apiKeyId, b.mergeId, b.segmentId],
  };
}

async function snapshotB(key: string) {
  const r = await t.gql(
    `{ me { workspace { name timeZone } } apiKeys { id revokedAt } tags { key size } segments { id size expression }
       profiles(first: 100) { edges { node { id identifiers { type value } tags { key } } } } identityRules { blockedValues } }`,
    {},
    key,
  );
  expect(r.errors).toBeUndefined();
  return JSON.stringify(r.data);
}

describe('tenant isolation (generated from the schema)', () => {
  it('no query or mutation with workspace A\'s key reaches workspace B', async () => {
    const { key: bKey, targets, secrets } = await seedB();
    const a = await t.newWorkspace('A');
    const before = await snapshotB(bKey);
    let calls = 0;
    for (const { field, doc, vars } of await probeOperations(t, a.adminKey, targets, 2)) {
      const r = await t.gql(doc, vars, a.adminKey);
      calls++;
      const text = JSON.stringify(r.data ?? null);
      for (const secret of secrets) {
        if (text.includes(secret)) throw new Error(`${field.name} returned B's ${secret}: ${text.slice(0, 300)}`);
      }
      if (r.errors) {
        const codes = r.errors.map((e) => e.extensions.code);
        expect({ field: field.name, codes: codes.filter((c) => !['NOT_FOUND', 'FORBIDDEN', 'BAD_USER_INPUT', 'CONFLICT'].includes(c)), errors: r.errors.filter((e) => !['NOT_FOUND', 'FORBIDDEN', 'BAD_USER_INPUT', 'CONFLICT'].includes(e.extensions.code)).map((e) => e.message) }).toEqual({ field: field.name, codes: [], errors: [] });
      }
    }
    expect(calls).toBeGreaterThan(25);
    expect(await snapshotB(bKey)).toBe(before);
  });
});
