import { getArgumentValues, isObjectType, Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { types } from 'pg';
import { LoaderRegistry } from '../../platform/graphql/loaders';
import { IDENTIFIERS_LOADER, eventsLoaderName } from './profile.loaders';
import type { EventReadRow, IdentifierReadRow } from './profile.repository';

/**
 * One relation of `Profile` that a profile read can fetch in the same SQL statement as the profile
 * itself, then hand to the field's per-operation loader (no statement when the field resolves).
 * The module that owns the field owns its part: the SQL and the loader value must stay exactly
 * what its batch function answers.
 */
export interface ProfilePrefetchPart {
  /** The `Profile` field it answers. */
  readonly field: string;
  /** Whether these field arguments are prefetched (otherwise the field loads as usual). */
  accepts?(args: Record<string, unknown>): boolean;
  /**
   * One json value over the live profile row `p` (use `p.workspace_id`, `p.id`), on the existing
   * indexes. `param` binds a value and returns its placeholder. Timestamps go as text
   * (`x::text`) and come back through `timestamptz`, so they equal what the driver parses.
   */
  select(args: Record<string, unknown>, param: (value: unknown) => string): string;
  /** Primes the field's loader for the (survivor) profile id with the decoded value. */
  prime(loaders: LoaderRegistry, profileId: string, value: unknown, args: Record<string, unknown>): void;
}

/** A part and the arguments the operation gives its field. */
export interface PlannedPart {
  part: ProfilePrefetchPart;
  args: Record<string, unknown>;
}

const parseTimestamptz = types.getTypeParser(types.builtins.TIMESTAMPTZ) as (text: string) => Date;

/** A `timestamptz` sent as text inside json, parsed exactly as the driver parses the column. */
export function timestamptz(text: string): Date;
export function timestamptz(text: string | null): Date | null;
export function timestamptz(text: string | null): Date | null {
  return text === null ? null : parseTimestamptz(text);
}

type JsonIdentifier = Omit<IdentifierReadRow, 'first_seen_at' | 'last_seen_at'> & { first_seen_at: string; last_seen_at: string };
type JsonEvent = Omit<EventReadRow, 'ts' | 'received_at'> & { ts: string; received_at: string };

const identifiersPart: ProfilePrefetchPart = {
  field: 'identifiers',
  select: () => `(SELECT coalesce(json_agg(json_build_object('profile_id', i.profile_id, 'type', i.type, 'namespace', i.namespace, 'value_key', i.value_key,
      'value_enc', i.value_enc, 'first_seen_at', i.first_seen_at::text, 'last_seen_at', i.last_seen_at::text)
      ORDER BY i.type, i.namespace, i.first_seen_at, i.value_key), '[]'::json)
    FROM identifiers i WHERE i.workspace_id = p.workspace_id AND i.profile_id = p.id)`,
  prime: (loaders, id, value) =>
    loaders.prime(
      IDENTIFIERS_LOADER,
      id,
      (value as JsonIdentifier[]).map((r): IdentifierReadRow => ({ ...r, first_seen_at: timestamptz(r.first_seen_at), last_seen_at: timestamptz(r.last_seen_at) })),
    ),
};

/** The first page of the timeline (no cursor, no name filter): `first + 1` rows, as its loader reads them. */
const eventsPart: ProfilePrefetchPart = {
  field: 'events',
  accepts: (a) => Number.isInteger(a.first) && (a.first as number) >= 1 && (a.first as number) <= 100 && a.after == null && a.name == null,
  select: (a, param) => `(SELECT coalesce(json_agg(json_build_object('profile_id', e.profile_id, 'message_id', e.message_id, 'type', e.type, 'name', e.name,
      'channel', e.channel, 'ts', e.ts::text, 'received_at', e.received_at::text, 'properties', e.properties, 'context', e.context, 'traits', e.traits)
      ORDER BY e.ts DESC, e.message_id DESC), '[]'::json)
    FROM (SELECT profile_id, message_id, type, name, channel, ts, received_at, properties, context, traits FROM events
          WHERE workspace_id = p.workspace_id AND profile_id = p.id ORDER BY ts DESC, message_id DESC LIMIT ${param((a.first as number) + 1)}::int) e)`,
  prime: (loaders, id, value, a) =>
    loaders.prime(
      eventsLoaderName(a.first as number, null, null),
      id,
      (value as JsonEvent[]).map((e): EventReadRow => ({ ...e, ts: timestamptz(e.ts), received_at: timestamptz(e.received_at) })),
    ),
};

/**
 * Profile reads that fetch the selected relations with the profile (one statement): the root field
 * resolver asks for a plan from its `info`, the service reads the columns, and the values prime the
 * loaders the field resolvers use. Anything not planned loads through its loader as before.
 */
export class ProfilePrefetch {
  /**
   * Test and benchmark switch: false reads every relation through its loader (the path the
   * prefetch must answer identically to). Only reachable from code.
   */
  static enabled = true;

  private readonly parts = new Map<string, ProfilePrefetchPart>();

  /** `parts`: the prefetch phase of every projection (their fields of `Profile`), beside this module's own. */
  constructor(parts: readonly ProfilePrefetchPart[]) {
    this.add(identifiersPart, eventsPart, ...parts);
  }

  /** True when a read of this `Profile` field is answered with the profile. */
  has(field: string): boolean {
    return this.parts.has(field);
  }

  private add(...parts: ProfilePrefetchPart[]): void {
    for (const p of parts) this.parts.set(p.field, p);
  }

  /**
   * The parts the selection of a field returning `Profile` asks for (fragments included;
   * `@skip`/`@include` ignored: prefetching a skipped field costs a little, answers nothing wrong).
   * Empty when prefetching is off, or without batching (no loader cache to prime).
   */
  plan(info: GraphQLResolveInfo, path: string[] = []): PlannedPart[] {
    if (!ProfilePrefetch.enabled || !LoaderRegistry.batching || !this.parts.size) return [];
    const profileType = info.schema.getType('Profile');
    if (!isObjectType(profileType)) return [];
    let nodes: readonly FieldNode[] = info.fieldNodes;
    for (const step of path) nodes = nodes.flatMap((n) => collect(n.selectionSet, info).filter((f) => f.name.value === step));
    const planned: PlannedPart[] = [];
    const seen = new Set<string>();
    for (const f of nodes.flatMap((n) => collect(n.selectionSet, info))) {
      const part = this.parts.get(f.name.value);
      const def = profileType.getFields()[f.name.value];
      if (!part || !def) continue;
      let args: Record<string, unknown>;
      try {
        args = getArgumentValues(def, f, info.variableValues);
      } catch {
        continue; // the field's own resolution reports bad arguments
      }
      if (part.accepts && !part.accepts(args)) continue;
      const key = `${part.field}:${JSON.stringify(args)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      planned.push({ part, args });
    }
    return planned;
  }

  /** The select-list expressions of a plan, in plan order. */
  columns(plan: PlannedPart[], param: (value: unknown) => string): string[] {
    return plan.map((p) => p.part.select(p.args, param));
  }

  /** Primes the loaders with the values read for one profile (in plan order). */
  prime(loaders: LoaderRegistry, profileId: string, plan: PlannedPart[], values: unknown[]): void {
    plan.forEach((p, i) => p.part.prime(loaders, profileId, values[i], p.args));
  }
}

/**
 * The fields of a selection set, through fragments. The object types on this path implement no
 * interface, so every fragment a valid operation spreads here is on the type itself.
 */
function collect(set: SelectionSetNode | undefined, info: GraphQLResolveInfo, out: FieldNode[] = [], visited = new Set<string>()): FieldNode[] {
  for (const s of set?.selections ?? []) {
    if (s.kind === Kind.FIELD) out.push(s);
    else if (s.kind === Kind.INLINE_FRAGMENT) collect(s.selectionSet, info, out, visited);
    else if (!visited.has(s.name.value)) {
      visited.add(s.name.value);
      collect(info.fragments[s.name.value]?.selectionSet, info, out, visited);
    }
  }
  return out;
}
