import type { TestApp } from './app';
import { ProfilesDocument, type ProfilesQuery } from '../generated/graphql';

/** Every live profile with its identifiers as `type:namespace:value` (unmasked: use an admin key). */
export async function fetchPartition(t: TestApp, key: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let after: string | null = null;
  for (;;) {
    const r: { data?: ProfilesQuery | null; errors?: unknown } = await t.gql(ProfilesDocument, { first: 100, after }, key);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    const page: ProfilesQuery['profiles'] = r.data!.profiles;
    for (const e of page.edges) out.set(e.node.id, e.node.identifiers.map((i) => `${i.type}:${i.namespace ?? ''}:${i.value}`).sort());
    if (!page.pageInfo.hasNextPage) return out;
    after = page.pageInfo.endCursor;
  }
}

/** Resolves many (possibly merged) profile ids to their live ids in one request. */
export async function resolveIds(t: TestApp, key: string, ids: string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  const out = new Map<string, string>();
  for (let i = 0; i < unique.length; i += 100) {
    const chunk = unique.slice(i, i + 100);
    const q = `query { ${chunk.map((id, j) => `p${j}: profile(id: "${id}") { id }`).join(' ')} }`;
    const r = await t.gql<Record<string, { id: string }>>(q, {}, key);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    chunk.forEach((id, j) => out.set(id, r.data![`p${j}`].id));
  }
  return out;
}
