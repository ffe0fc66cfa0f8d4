import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { bootApp, type TestApp } from '../support/app';
import { makeEvent } from '../support/events';
import { countRows } from '../support/rows';
import { CreateApiKeyDocument, CreateTagDocument, IngestDocument, ProfileDocument, SegmentsDocument } from '../generated/graphql';

/**
 * Role checks, generated from the schema (the argument sampling of tenant-isolation.test.ts):
 * - an INGEST key gets FORBIDDEN from every query and mutation except those documented for it
 *   ("INGEST." or "Any role." in the description), and changes nothing;
 * - an ANALYST key never sees a person's identifiers in plain text: every query either answers
 *   FORBIDDEN or returns data without them.
 * New fields are covered automatically.
 */
let t: TestApp;
beforeAll(async () => {
  // The probes select every field three levels deep: far over the default complexity limit, which is
  // not what this file tests.
  t = await bootApp({ SIYU_MAX_QUERY_COMPLEXITY: '100000000' });
});
afterAll(() => t.stop());

interface Seeded {
  workspaceId: string;
  adminKey: string;
  ingestKey: string;
  analystKey: string;
  profileId: string;
  mergeId: string;
  segmentId: string;
  apiKeyId: string;
  /** Plain identifier values that must never reach an ANALYST. */
  pii: string[];
}

async function seed(): Promise<Seeded> {
  const w = await t.newWorkspace('roles');
  const key = w.adminKey;
  await t.gql(CreateTagDocument, { input: { key: 'vip', name: 'VIP', kind: 'MANUAL' } }, key);
  const r1 = await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ['member_id::ROLE-MEMBER-1'], traits: { tags: ['vip'] }, type: 'identify', name: null })] }, key);
  await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ['wechat_unionid:wx_open:ROLE-UNION-1', 'email::role.person@example.com'] })] }, key);
  await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ['member_id::ROLE-MEMBER-1', 'wechat_unionid:wx_open:ROLE-UNION-1', 'phone::13700002222'], name: 'Order Completed', properties: { revenue: 10 } })] }, key);
  const profileId = r1.data!.ingestEvents.results[0].profileId!;
  const p = await t.gql(ProfileDocument, { id: profileId }, key);
  const segmentId = (await t.gql(SegmentsDocument, {}, key)).data!.segments[0].id;
  const ingest = await t.gql(CreateApiKeyDocument, { input: { role: 'INGEST', name: 'sdk' } }, key);
  const analyst = await t.gql(CreateApiKeyDocument, { input: { role: 'ANALYST', name: 'bi' } }, key);
  return {
    workspaceId: w.workspaceId,
    adminKey: key,
    ingestKey: ingest.data!.createApiKey.key,
    analystKey: analyst.data!.createApiKey.key,
    profileId: p.data!.profile.id,
    mergeId: p.data!.profile.mergeHistory[0].id,
    segmentId,
    apiKeyId: ingest.data!.createApiKey.apiKey.id,
    pii: ['ROLE-MEMBER-1', 'ROLE-UNION-1', 'role.person@example.com', '13700002222', '+8613700002222'],
  };
}

function valueFor(name: string, type: GraphQLInputType, s: Seeded, path: string): unknown {
  if (isNonNullType(type)) return valueFor(name, type.ofType, s, path);
  if (isListType(type)) return [valueFor(name, type.ofType, s, path)];
  const named = getNamedType(type);
  if (isEnumType(named)) return named.getValues()[0].value;
  if (isInputObjectType(named)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(named.getFields())) {
      if (isNonNullType(f.type) || /id|key|segment|tags/i.test(f.name)) out[f.name] = valueFor(f.name, f.type, s, `${path}.${f.name}`);
    }
    return out;
  }
  if (isScalarType(named)) {
    const n = name.toLowerCase();
    if (named.name === 'ID') {
      if (n.includes('merge')) return s.mergeId;
      if (n.includes('segment') || path.includes('egment')) return s.segmentId;
      if (path.startsWith('revokeApiKey')) return s.apiKeyId;
      return s.profileId;
    }
    if (named.name === 'Int' || named.name === 'Float') return 1;
    if (named.name === 'Boolean') return false;
    if (named.name === 'DateTimeISO') return '2026-01-01T00:00:00Z';
    if (named.name === 'JSON') return 'probe';
    if (named.name === 'String') {
      if (n === 'type') return 'member_id';
      if (n === 'value') return 'ROLE-MEMBER-1';
      if (n.includes('key') || n.includes('tag')) return 'vip';
      if (n.includes('group')) return 'default';
      if (n === 'expression') return 'has_tag("vip")';
      return 'probe';
    }
  }
  throw new Error(`cannot generate a value for ${path} of type ${String(type)}`);
}

function selection(schema: GraphQLSchema, typeName: string, depth: number): string {
  const type = schema.getType(typeName);
  if (!type || !('getFields' in type) || isInputObjectType(type)) return '';
  const parts: string[] = [];
  for (const f of Object.values(type.getFields()) as GraphQLField<unknown, unknown>[]) {
    if (f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    const named = getNamedType(f.type);
    if (isScalarType(named) || isEnumType(named)) parts.push(f.name);
    else if (depth > 0) {
      const sub = selection(schema, named.name, depth - 1);
      if (sub) parts.push(`${f.name} ${sub}`);
    }
  }
  return parts.length ? `{ ${parts.join(' ')} }` : '';
}

/** Every root query and mutation, with generated arguments and a selection `depth` levels deep. */
async function operations(s: Seeded, depth: number) {
  const intro = await t.gql<IntrospectionQuery>(getIntrospectionQuery(), {}, s.adminKey);
  const schema = buildClientSchema(intro.data!);
  const out: { op: 'query' | 'mutation'; field: GraphQLField<unknown, unknown>; doc: string; vars: Record<string, unknown> }[] = [];
  for (const [op, root] of [['query', schema.getQueryType()!], ['mutation', schema.getMutationType()!]] as const) {
    for (const field of Object.values(root.getFields())) {
      const vars: Record<string, unknown> = {};
      const defs: string[] = [];
      const args: string[] = [];
      for (const arg of field.args) {
        if (!isNonNullType(arg.type) && !/id|key|segment|identifier|filter/i.test(arg.name)) continue;
        vars[arg.name] = valueFor(arg.name, arg.type, s, `${field.name}.${arg.name}`);
        defs.push(`$${arg.name}: ${String(arg.type)}`);
        args.push(`${arg.name}: $${arg.name}`);
      }
      const named = getNamedType(field.type);
      const sel = isScalarType(named) || isEnumType(named) ? '' : selection(schema, named.name, depth);
      out.push({ op, field, vars, doc: `${op}${defs.length ? `(${defs.join(', ')})` : ''} { ${field.name}${args.length ? `(${args.join(', ')})` : ''} ${sel} }` });
    }
  }
  return out;
}

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
    expect(allowed.sort()).toEqual(['ingestEvents', 'me', 'workspace']);
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
