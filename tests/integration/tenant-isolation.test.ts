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
import { CreateApiKeyDocument, CreateTagDocument, IngestDocument, ProfileDocument, SegmentsDocument } from '../generated/graphql';

/**
 * Tenant isolation, generated from the schema: every query and mutation is called with workspace
 * A's admin key and workspace B's ids and keys. Nothing of B may come back, and B must be unchanged.
 * New fields are covered automatically; an argument kind the generator cannot fill fails the test.
 */
let t: TestApp;
beforeAll(async () => {
  t = await bootApp();
});
afterAll(() => t.stop());

interface Secrets {
  profileIds: string[];
  mergeId: string;
  segmentId: string;
  apiKeyId: string;
  tagKey: string;
  strings: string[];
}

async function seedB(): Promise<{ key: string; secrets: Secrets }> {
  const b = await t.newWorkspace('品牌B-secret-workspace');
  const key = b.adminKey;
  await t.gql(CreateTagDocument, { input: { key: 'b_secret_tag', name: 'B秘密', kind: 'MANUAL' } }, key);
  const r1 = await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ['member_id::B-MEMBER-1'], traits: { tags: ['b_secret_tag'] }, type: 'identify', name: null })] }, key);
  await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ['wechat_unionid:wx_open:B-UNION-1'] })] }, key);
  await t.gql(IngestDocument, { events: [makeEvent({ identifiers: ['member_id::B-MEMBER-1', 'wechat_unionid:wx_open:B-UNION-1', 'phone::13700001111'], name: 'Order Completed', properties: { revenue: 9999 } })] }, key);
  const pid = r1.data!.ingestEvents.results[0].profileId!;
  const p = await t.gql(ProfileDocument, { id: pid }, key);
  const mergeId = p.data!.profile.mergeHistory[0].id;
  const seg = (await t.gql(SegmentsDocument, {}, key)).data!.segments[0].id;
  const k = await t.gql(CreateApiKeyDocument, { input: { role: 'READ', name: 'b reader' } }, key);
  return {
    key,
    secrets: {
      profileIds: [pid, p.data!.profile.mergeHistory[0].mergedId],
      mergeId,
      segmentId: seg,
      apiKeyId: k.data!.createApiKey.apiKey.id,
      tagKey: 'b_secret_tag',
      strings: [b.workspaceId, pid, 'B-MEMBER-1', 'B-UNION-1', '13700001111', '品牌B-secret-workspace', 'B秘密', k.data!.createApiKey.apiKey.id, mergeId, seg],
    },
  };
}

/** A value for an argument, chosen by name and type, pointing at B wherever an id is asked for. */
function valueFor(name: string, type: GraphQLInputType, s: Secrets, path: string): unknown {
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
      return s.profileIds[0];
    }
    if (named.name === 'Int' || named.name === 'Float') return 1;
    if (named.name === 'Boolean') return false;
    if (named.name === 'DateTimeISO') return '2026-01-01T00:00:00Z';
    if (named.name === 'JSON') return 'probe';
    if (named.name === 'String') {
      if (n === 'type') return 'member_id';
      if (n === 'value') return 'B-MEMBER-1';
      if (n.includes('key') || n.includes('tag')) return s.tagKey;
      if (n.includes('group')) return 'default';
      if (n === 'expression') return 'has_tag("b_secret_tag")';
      return 'probe';
    }
  }
  throw new Error(`cannot generate a value for ${path} of type ${String(type)}`);
}

/** A selection of every scalar field, one level of objects deep, skipping fields that need arguments. */
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
    const { key: bKey, secrets } = await seedB();
    const a = await t.newWorkspace('A');
    const before = await snapshotB(bKey);
    const intro = await t.gql<IntrospectionQuery>(getIntrospectionQuery(), {}, a.adminKey);
    const schema = buildClientSchema(intro.data!);
    const roots = [
      ['query', schema.getQueryType()!],
      ['mutation', schema.getMutationType()!],
    ] as const;
    let calls = 0;
    for (const [op, root] of roots) {
      for (const field of Object.values(root.getFields())) {
        const vars: Record<string, unknown> = {};
        const defs: string[] = [];
        const args: string[] = [];
        for (const arg of field.args) {
          if (!isNonNullType(arg.type) && !/id|key|segment|identifier|filter/i.test(arg.name)) continue;
          vars[arg.name] = valueFor(arg.name, arg.type, secrets, `${field.name}.${arg.name}`);
          defs.push(`$${arg.name}: ${String(arg.type)}`);
          args.push(`${arg.name}: $${arg.name}`);
        }
        const named = getNamedType(field.type);
        const sel = isScalarType(named) || isEnumType(named) ? '' : selection(schema, named.name, 2);
        const doc = `${op}${defs.length ? `(${defs.join(', ')})` : ''} { ${field.name}${args.length ? `(${args.join(', ')})` : ''} ${sel} }`;
        const r = await t.gql(doc, vars, a.adminKey);
        calls++;
        const text = JSON.stringify(r.data ?? null);
        for (const secret of secrets.strings) {
          if (text.includes(secret)) throw new Error(`${field.name} returned B's ${secret}: ${text.slice(0, 300)}`);
        }
        if (r.errors) {
          const codes = r.errors.map((e) => e.extensions.code);
          expect(codes.every((c) => ['NOT_FOUND', 'FORBIDDEN', 'BAD_USER_INPUT', 'CONFLICT'].includes(c))).toBe(true);
        }
      }
    }
    expect(calls).toBeGreaterThan(25);
    expect(await snapshotB(bKey)).toBe(before);
  });
});
