import type { EntityManager } from 'typeorm';

export interface WorkspaceSummary {
  people: number;
  merges: number;
  events: number;
  orders: number;
  revenue: number;
  invites: number;
  shares: number;
  groupBuys: number;
}

/** What a workspace holds after seeding (printed by `siyu seed`). */
export async function workspaceSummary(em: EntityManager, ws: string): Promise<WorkspaceSummary> {
  const [r] = await em.query(
    `SELECT (SELECT count(*)::int FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL) AS people,
            (SELECT count(*)::int FROM identity_merges WHERE workspace_id = $1) AS merges,
            (SELECT count(*)::int FROM events WHERE workspace_id = $1) AS events,
            (SELECT coalesce(sum(order_count), 0)::int FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL) AS orders,
            (SELECT coalesce(sum(total_spend), 0)::float8 FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL) AS revenue,
            (SELECT count(*) FILTER (WHERE kind = 'invited')::int FROM relations WHERE workspace_id = $1) AS invites,
            (SELECT count(*) FILTER (WHERE kind = 'shared_to')::int FROM relations WHERE workspace_id = $1) AS shares,
            (SELECT count(*) FILTER (WHERE kind = 'group_buy_with')::int FROM relations WHERE workspace_id = $1) AS group_buys`,
    [ws],
  );
  return { people: r.people, merges: r.merges, events: r.events, orders: r.orders, revenue: Number(r.revenue), invites: r.invites, shares: r.shares, groupBuys: r.group_buys };
}
