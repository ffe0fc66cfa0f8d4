import type { EntityManager } from 'typeorm';
import { AppError } from '../../platform/errors';
import { KpiErrorCode } from './kpi.errors';

/** One key of an org-node answer and the touchpoints whose activity it counts. */
export interface OrgGroup {
  key: string;
  touchpoints: string[];
}

/**
 * The touchpoint groups an org node filter or breakdown reads, from the tree and touchpoint
 * registry as they are now (org module tables). `node` null: the whole workspace.
 *
 * - Filter only (`split` false): one group, key '', the touchpoints of `node`'s whole subtree.
 * - Breakdown (`split` true): one group per child of `node` (its subtree's touchpoints), one keyed
 *   by `node` itself for the touchpoints assigned to it directly, and — at the top, `node` null —
 *   one keyed '' for the touchpoints of no node (and events without a touchpoint). The groups
 *   partition the touchpoints, so counts of events and orders (and of new people, each acquired at
 *   one touchpoint) add up over them to `node`'s; a person active at two children counts once in
 *   `node` and once in each child.
 *
 * Cost: one read of the workspace's nodes and assigned touchpoints (what an admin set up), never of
 * activity. An unknown node is a typed error on `filter.orgNode`.
 */
export async function orgGroups(em: EntityManager, ws: string, node: string | null, split: boolean): Promise<OrgGroup[]> {
  const nodes: { key: string; parent: string | null }[] = await em.query(`SELECT key, parent_key AS parent FROM org_nodes WHERE workspace_id = $1`, [ws]);
  if (node !== null && !nodes.some((n) => n.key === node)) throw AppError.badInput(KpiErrorCode.INVALID_KPI_FILTER, 'filter.orgNode', `no org node ${node}`);
  const parent = new Map(nodes.map((n) => [n.key, n.parent]));
  // Each node's child of `node` on the way up (or itself when it is `node`), memoised.
  const under = new Map<string, string | null>();
  const groupOf = (k: string): string | null => {
    if (under.has(k)) return under.get(k)!;
    let g: string | null;
    if (k === node) g = k;
    else {
      const p = parent.get(k) ?? null;
      if (p === node) g = k;
      else if (p === null) g = null;
      else g = groupOf(p);
    }
    under.set(k, g);
    return g;
  };
  const everyTouchpoint = split && node === null;
  const rows: { t: string; n: string | null }[] = await em.query(
    `SELECT touchpoint AS t, node_key AS n FROM org_touchpoints WHERE workspace_id = $1 ${everyTouchpoint ? '' : 'AND node_key IS NOT NULL'}`,
    [ws],
  );
  const groups = new Map<string, string[]>();
  for (const r of rows) {
    const g = r.n === null ? (everyTouchpoint ? '' : null) : node === null ? (split ? topOf(r.n, parent) : '') : groupOf(r.n);
    if (g === null) continue;
    const key = split ? g : '';
    const list = groups.get(key) ?? [];
    list.push(r.t);
    groups.set(key, list);
  }
  return [...groups].map(([key, touchpoints]) => ({ key, touchpoints: touchpoints.sort() })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The top-level node above `k`. */
function topOf(k: string, parent: Map<string, string | null>): string {
  let at = k;
  for (let guard = 0; guard < 64; guard++) {
    const p = parent.get(at) ?? null;
    if (p === null) return at;
    at = p;
  }
  return at;
}
