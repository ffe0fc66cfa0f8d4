import { bootAppPerFile } from '../support/app';
import { countRows } from '../support/rows';
import { probeOperations, seedProbeWorkspace, type ProbeTargets } from '../support/schema-probe';
import { CreateApiKeyDocument } from '../generated/graphql';

/**
 * Role checks, generated from the schema (the argument sampling of tenant-isolation.test.ts):
 * - an INGEST key gets FORBIDDEN from every query and mutation except those documented for it
 *   ("INGEST." or "Any role." in the description), and changes nothing;
 * - an ANALYST key never sees a person's identifiers in plain text: every query either answers
 *   FORBIDDEN or returns data without them.
 * New fields are covered automatically.
 */
// The probes select every field three levels deep: far over the default complexity limit, which is
// not what this file tests.
const t = bootAppPerFile({ SIYU_MAX_QUERY_COMPLEXITY: '100000000' });

interface Seeded extends ProbeTargets {
  workspaceId: string;
  adminKey: string;
  ingestKey: string;
  analystKey: string;
  /** Plain identifier values that must never reach an ANALYST. */
  pii: string[];
}

async function seed(): Promise<Seeded> {
  const w = await seedProbeWorkspace(t, 'roles', {
    tag: { key: 'vip', name: 'VIP' },
    member: 'ROLE-MEMBER-1',
    unionid: 'ROLE-UNION-1',
    email: 'role.person@example.com',
    phone: '13700002222',
    revenue: 10,
  });
  const key = w.adminKey;
  const ingest = await t.gql(CreateApiKeyDocument, { input: { role: 'INGEST', name: 'sdk' } }, key);
  const analyst = await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'bi' } }, key);
  return {
    workspaceId: w.workspaceId,
    adminKey: key,
    ingestKey: ingest.data!.createApiKey.key,
    analystKey: analyst.data!.createApiKey.key,
    profileId: w.profileId,
    mergeId: w.mergeId,
    segmentId: w.segmentId,
    apiKeyId: ingest.data!.createApiKey.apiKey.id,
    tagKey: 'vip',
    memberValue: 'ROLE-MEMBER-1',
    pii: ['ROLE-MEMBER-1', 'ROLE-UNION-1', 'role.person@example.com', '13700002222', '+8613700002222'],
  };
}

/** Every root query and mutation, with generated arguments and a selection `depth` levels deep. */
const operations = (s: Seeded, depth: number) => probeOperations(t, s.adminKey, s, depth);

async function adminState(s: Seeded): Promise<string> {
  const r = await t.gql(
    '{ workspace { name timeZone } apiKeys { id name revokedAt } tags { key name kind } segments { id key expression } identityRules { blockedValues } journeys { id } stageModel { stages { key } } }',
    {},
    s.adminKey,
  );
  expect(r.errors).toBeUndefined();
  return JSON.stringify(r.data);
}

/** Documented for INGEST keys: "INGEST." (ingestEvents) or "Any role." (me, workspace). */
const allowsIngest = (description: string | null | undefined) => /\bINGEST\.|\bAny role\b/.test(description ?? '');

describe('role checks (generated from the schema)', () => {
  it('an INGEST key is FORBIDDEN everywhere except the operations documented for it, and changes nothing', async () => {
    const s = await seed();
    const before = await countRows(t, s.workspaceId);
    const stateBefore = await adminState(s);
    const ops = await operations(s, 2);
    const allowed: string[] = [];
    for (const { field, doc, vars } of ops) {
      const r = await t.gql(doc, vars, s.ingestKey);
      const codes = (r.errors ?? []).map((e) => e.extensions.code);
      if (allowsIngest(field.description)) {
        allowed.push(field.name);
        expect({ field: field.name, forbidden: codes.includes('FORBIDDEN') && r.data == null }).toEqual({ field: field.name, forbidden: false });
      } else {
        expect({ field: field.name, codes, data: r.data ?? null }).toEqual({ field: field.name, codes: ['FORBIDDEN'], data: null });
      }
    }
    expect(allowed.sort()).toEqual(['assignVariant', 'ingestEvents', 'me', 'workspace']);
    expect(ops.length).toBeGreaterThan(40);
    // ingestEvents got one generated event and may have stored it; everything configurable is as before.
    expect(await adminState(s)).toBe(stateBefore);
    expect((await countRows(t, s.workspaceId)).profiles).toBeLessThanOrEqual(before.profiles + 1);
  });

  it('an ANALYST key never receives a person\'s identifiers in plain text', async () => {
    const s = await seed();
    const ops = (await operations(s, 3)).filter((o) => o.op === 'query');
    let forbidden = 0;
    let answered = 0;
    for (const { field, doc, vars } of ops) {
      const r = await t.gql(doc, vars, s.analystKey);
      const codes = (r.errors ?? []).map((e) => e.extensions.code);
      expect({ field: field.name, codes: codes.filter((c) => !['FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT'].includes(c)) }).toEqual({ field: field.name, codes: [] });
      // A probe refused by the query limits would prove nothing.
      expect((r.errors ?? []).filter((e) => String(e.extensions.reason).startsWith('QUERY_TOO'))).toEqual([]);
      const text = JSON.stringify(r.data ?? null);
      for (const value of s.pii) {
        if (text.includes(value)) throw new Error(`${field.name} showed ${value} to an ANALYST key: ${text.slice(0, 300)}`);
      }
      if (codes.includes('FORBIDDEN')) forbidden++;
      if (r.data) answered++;
    }
    // Sanity: the same queries with the ADMIN key do show the plain values somewhere.
    let shownToAdmin = 0;
    for (const { doc, vars } of ops) {
      const text = JSON.stringify((await t.gql(doc, vars, s.adminKey)).data ?? null);
      if (s.pii.some((v) => text.includes(v))) shownToAdmin++;
    }
    expect(shownToAdmin).toBeGreaterThan(0);
    expect(forbidden).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(0);
  });
});
