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
import { CreateTagDocument, IngestDocument, ProfileDocument, SegmentsDocument } from '../generated/graphql';
import type { GqlResponse, TestApp } from './app';
import { makeEvent } from './events';

/**
 * Probes generated from the schema (role-checks and tenant-isolation tests): every root query and
 * mutation with generated arguments, so new fields are covered automatically. An argument kind the
 * generator cannot fill fails the test.
 */

/** What the generated arguments point at: ids of a seeded workspace, its tag and a member id value. */
export interface ProbeTargets {
  profileId: string;
  mergeId: string;
  segmentId: string;
  apiKeyId: string;
  tagKey: string;
  memberValue: string;
}

/** A value for an argument, chosen by name and type, pointing at the targets wherever an id is asked for. */
export function valueFor(name: string, type: GraphQLInputType, s: ProbeTargets, path: string): unknown {
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
      if (n === 'value') return s.memberValue;
      if (n.includes('key') || n.includes('tag')) return s.tagKey;
      if (n.includes('group')) return 'default';
      if (n === 'expression') return `has_tag("${s.tagKey}")`;
      return 'probe';
    }
  }
  throw new Error(`cannot generate a value for ${path} of type ${String(type)}`);
}

/** A selection of every scalar field, `depth` levels of objects deep, skipping fields that need arguments. */
export function selection(schema: GraphQLSchema, typeName: string, depth: number): string {
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

export interface ProbeOperation {
  op: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
  doc: string;
  vars: Record<string, unknown>;
}

/** Every root query and mutation (schema introspected with `key`), with generated arguments and a selection `depth` levels deep. */
export async function probeOperations(t: TestApp, key: string, s: ProbeTargets, depth: number): Promise<ProbeOperation[]> {
  const intro = await t.gql<IntrospectionQuery>(getIntrospectionQuery(), {}, key);
  const schema = buildClientSchema(intro.data!);
  const out: ProbeOperation[] = [];
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

/** The people of a probed workspace: a tagged member, then a unionid (and an email), then an order linking both and a phone. */
export interface ProbePeople {
  tag: { key: string; name: string };
  member: string;
  unionid: string;
  email?: string;
  phone: string;
  revenue: number;
}

/**
 * A new workspace with a manual tag and two people merged into one (so it has a merge), and the

 * ids the probes point at: the profile the first event made (`firstProfileId`) and the one it lives
 * on after the merge (`profileId`) — everything but an API key, which each test makes with the role it needs).
 */
export async function seedProbeWorkspace(t: TestApp, name: string, p: ProbePeople) {
  const w = await t.newWorkspace(name);
  const key = w.adminKey;
  const ok = async <T>(pending: Promise<GqlResponse<T>>) => {
    const r = await pending;
    expect(r.errors).toBeUndefined();
    return r;
  };
  await ok(t.gql(CreateTagDocument, { input: { key: p.tag.key, name: p.tag.name, kind: 'MANUAL' } }, key));
  const member = `member_id::${p.member}`;
  const unionid = `wechat_unionid:wx_open:${p.unionid}`;
  const r1 = await ok(t.gql(IngestDocument, { events: [makeEvent({ identifiers: [member], traits: { tags: [p.tag.key] }, type: 'identify', name: null })] }, key));
  await ok(t.gql(IngestDocument, { events: [makeEvent({ identifiers: [unionid, ...(p.email ? [`email::${p.email}`] : [])] })] }, key));
  await ok(t.gql(IngestDocument, { events: [makeEvent({ identifiers: [member, unionid, `phone::${p.phone}`], name: 'Order Completed', properties: { revenue: p.revenue } })] }, key));
  const firstProfileId = r1.data!.ingestEvents.results[0].profileId!;
  const profile = (await t.gql(ProfileDocument, { id: firstProfileId }, key)).data!.profile;
  const segmentId = (await t.gql(SegmentsDocument, {}, key)).data!.segments[0].id;
  return { ...w, firstProfileId, profileId: profile.id, mergedId: profile.mergeHistory[0].mergedId, mergeId: profile.mergeHistory[0].id, segmentId };
}
