import type { EntityManager } from 'typeorm';

export interface OrgNodeRow {
  key: string;
  name: string;
  parentKey: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface TouchpointRow {
  touchpoint: string;
  nodeKey: string | null;
  firstSeen: Date;
  assignedAt: Date | null;
}

export interface StaffRow {
  staffId: string;
  name: string | null;
  nodeKey: string | null;
  firstSeen: Date;
  customers: number;
}

/** One person's owner as their events give it. */
export interface OwnerRow {
  profileId: string;
  staffId: string;
  since: Date;
  messageId: string;
}

/** SQL of the org tree, its registries and the carried staff owners. */
export class OrgRepository {
  async nodes(em: EntityManager, ws: string): Promise<OrgNodeRow[]> {
    return em.query(
      `SELECT key, name, parent_key AS "parentKey", created_at AS "createdAt", updated_at AS "updatedAt" FROM org_nodes WHERE workspace_id = $1 ORDER BY key`,
      [ws],
    );
  }

  async lockTree(em: EntityManager, ws: string): Promise<void> {
    // One tree change at a time per workspace (cycle and depth checks read the whole tree).
    await em.query(`SELECT pg_advisory_xact_lock(hashtext('org_tree:' || $1::text))`, [ws]);
  }

  async saveNode(em: EntityManager, ws: string, key: string, name: string, parentKey: string | null): Promise<void> {
    await em.query(
      `INSERT INTO org_nodes (workspace_id, key, name, parent_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (workspace_id, key) DO UPDATE SET name = EXCLUDED.name, parent_key = EXCLUDED.parent_key, updated_at = now()`,
      [ws, key, name, parentKey],
    );
  }

  /** Deletes a leaf node; its touchpoints and staff become unassigned. */
  async deleteNode(em: EntityManager, ws: string, key: string): Promise<void> {
    await em.query(`UPDATE org_touchpoints SET node_key = NULL, assigned_at = now() WHERE workspace_id = $1 AND node_key = $2`, [ws, key]);
    await em.query(`UPDATE org_staff SET node_key = NULL, updated_at = now() WHERE workspace_id = $1 AND node_key = $2`, [ws, key]);
    await em.query(`DELETE FROM org_nodes WHERE workspace_id = $1 AND key = $2`, [ws, key]);
  }

  /** Alert rules and targets whose filter names one of these nodes. */
  async scopedUses(em: EntityManager, ws: string, keys: string[]): Promise<number> {
    const [r] = await em.query(
      `SELECT (SELECT count(*) FROM kpi_alert_rules WHERE workspace_id = $1 AND filter->>'orgNode' = ANY($2::text[]))
            + (SELECT count(*) FROM kpi_targets WHERE workspace_id = $1 AND filter->>'orgNode' = ANY($2::text[])) AS n`,
      [ws, keys],
    );
    return Number(r.n);
  }

  async touchpoints(em: EntityManager, ws: string, nodeKey: string | null, unassignedOnly: boolean, first: number, after: string | null): Promise<TouchpointRow[]> {
    return em.query(
      `SELECT touchpoint, node_key AS "nodeKey", first_seen AS "firstSeen", assigned_at AS "assignedAt" FROM org_touchpoints
       WHERE workspace_id = $1 AND ($2::text IS NULL OR node_key = $2) AND (NOT $3 OR node_key IS NULL) AND ($5::text IS NULL OR touchpoint > $5)
       ORDER BY touchpoint LIMIT $4`,
      [ws, nodeKey, unassignedOnly, first, after],
    );
  }

  async touchpointsNamed(em: EntityManager, ws: string, list: string[]): Promise<TouchpointRow[]> {
    return em.query(
      `SELECT touchpoint, node_key AS "nodeKey", first_seen AS "firstSeen", assigned_at AS "assignedAt" FROM org_touchpoints WHERE workspace_id = $1 AND touchpoint = ANY($2::text[]) ORDER BY touchpoint`,
      [ws, list],
    );
  }

  /** Assigns touchpoints to a node (null: unassigns them), registering those not seen yet. */
  async assignTouchpoints(em: EntityManager, ws: string, touchpoints: string[], nodeKey: string | null): Promise<void> {
    await em.query(
      `INSERT INTO org_touchpoints (workspace_id, touchpoint, node_key, assigned_at) SELECT $1, t, $3, now() FROM unnest($2::text[]) t
       ON CONFLICT (workspace_id, touchpoint) DO UPDATE SET node_key = EXCLUDED.node_key, assigned_at = now()`,
      [ws, touchpoints, nodeKey],
    );
  }

  async staff(em: EntityManager, ws: string, nodeKey: string | null, first: number, after: string | null): Promise<StaffRow[]> {
    return this.staffWhere(em, `($2::text IS NULL OR s.node_key = $2) AND ($4::text IS NULL OR s.staff_id > $4) ORDER BY s.staff_id LIMIT $3`, [ws, nodeKey, first, after]);
  }

  async staffNamed(em: EntityManager, ws: string, ids: string[]): Promise<StaffRow[]> {
    return this.staffWhere(em, `s.staff_id = ANY($2::text[]) ORDER BY s.staff_id`, [ws, ids]);
  }

  /** Staff rows with how many people each owns now (one index probe per staff member). */
  private async staffWhere(em: EntityManager, where: string, params: unknown[]): Promise<StaffRow[]> {
    const rows: (Omit<StaffRow, 'customers'> & { customers: string })[] = await em.query(
      `SELECT s.staff_id AS "staffId", s.name, s.node_key AS "nodeKey", s.first_seen AS "firstSeen",
              (SELECT count(*) FROM profile_owners o WHERE o.workspace_id = s.workspace_id AND o.staff_id = s.staff_id) AS customers
       FROM org_staff s WHERE s.workspace_id = $1 AND ${where}`,
      params,
    );
    return rows.map((r) => ({ ...r, customers: Number(r.customers) }));
  }

  async saveStaff(em: EntityManager, ws: string, staffId: string, name: string | null, nodeKey: string | null): Promise<void> {
    await em.query(
      `INSERT INTO org_staff (workspace_id, staff_id, name, node_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (workspace_id, staff_id) DO UPDATE SET name = EXCLUDED.name, node_key = EXCLUDED.node_key, updated_at = now()`,
      [ws, staffId, name, nodeKey],
    );
  }

  // ---- kept at ingest ----------------------------------------------------------------------

  /** Creates the nodes events name that do not exist yet, at the top level, named by their key. */
  async ensureNodes(em: EntityManager, ws: string, keys: string[]): Promise<void> {
    if (!keys.length) return;
    await em.query(`INSERT INTO org_nodes (workspace_id, key, name) SELECT $1, k, k FROM unnest($2::text[]) k ON CONFLICT DO NOTHING`, [ws, keys]);
  }

  /** Registers touchpoints (`node`: the node an event names, taken only by an unassigned touchpoint); returns how many took a node. */
  async registerTouchpoints(em: EntityManager, ws: string, rows: { t: string; n: string | null }[]): Promise<number> {
    if (!rows.length) return 0;
    const t = rows.map((r) => r.t);
    const n = rows.map((r) => r.n);
    await em.query(
      `INSERT INTO org_touchpoints (workspace_id, touchpoint) SELECT $1, t FROM unnest($2::text[]) t ON CONFLICT DO NOTHING`,
      [ws, t],
    );
    if (!n.some((x) => x !== null)) return 0;
    const [r] = await em.query(
      `WITH a AS (UPDATE org_touchpoints o SET node_key = u.n, assigned_at = now() FROM unnest($2::text[], $3::text[]) u(t, n)
                  WHERE o.workspace_id = $1 AND o.touchpoint = u.t AND u.n IS NOT NULL AND o.node_key IS NULL RETURNING 1)
       SELECT count(*)::int AS n FROM a`,
      [ws, t, n],
    );
    return r.n;
  }

  /** Registers staff (`n`: the node an event names, taken only by unassigned staff). */
  async registerStaff(em: EntityManager, ws: string, rows: { s: string; n: string | null }[]): Promise<void> {
    if (!rows.length) return;
    const s = rows.map((r) => r.s);
    const n = rows.map((r) => r.n);
    await em.query(`INSERT INTO org_staff (workspace_id, staff_id) SELECT $1, s FROM unnest($2::text[]) s ON CONFLICT DO NOTHING`, [ws, s]);
    if (n.some((x) => x !== null)) {
      await em.query(
        `UPDATE org_staff o SET node_key = u.n, updated_at = now() FROM unnest($2::text[], $3::text[]) u(s, n)
         WHERE o.workspace_id = $1 AND o.staff_id = u.s AND u.n IS NOT NULL AND o.node_key IS NULL`,
        [ws, s, n],
      );
    }
  }

  /** Moves merged-away people's owners to their survivors; the later of the two (time, then message id) stays. */
  async moveMerged(em: EntityManager, ws: string, merged: { mergedId: string; survivorId: string }[]): Promise<void> {
    if (!merged.length) return;
    const moved: OwnerRow[] = await em.query(
      `WITH m AS (SELECT * FROM unnest($2::uuid[], $3::uuid[]) AS u(m, s)),
       d AS (DELETE FROM profile_owners o USING m WHERE o.workspace_id = $1 AND o.profile_id = m.m
             RETURNING m.s AS "profileId", o.staff_id AS "staffId", o.since, o.message_id AS "messageId")
       SELECT * FROM d`,
      [ws, merged.map((m) => m.mergedId), merged.map((m) => m.survivorId)],
    );
    await this.offer(em, ws, moved);
  }

  /** Sets each person's owner to the offered one when it is later than theirs (time, then message id). */
  async offer(em: EntityManager, ws: string, rows: OwnerRow[]): Promise<void> {
    const latest = new Map<string, OwnerRow>();
    for (const r of rows) {
      const cur = latest.get(r.profileId);
      if (!cur || later(r, cur)) latest.set(r.profileId, r);
    }
    if (!latest.size) return;
    const xs = [...latest.values()];
    await em.query(
      `INSERT INTO profile_owners AS o (workspace_id, profile_id, staff_id, since, message_id)
       SELECT $1, u.p, u.s, u.t, u.m FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::text[]) AS u(p, s, t, m)
       ON CONFLICT (workspace_id, profile_id) DO UPDATE SET staff_id = EXCLUDED.staff_id, since = EXCLUDED.since, message_id = EXCLUDED.message_id
       WHERE (EXCLUDED.since, EXCLUDED.message_id COLLATE "C") > (o.since, o.message_id COLLATE "C")`,
      [ws, xs.map((r) => r.profileId), xs.map((r) => r.staffId), xs.map((r) => new Date(r.since).toISOString()), xs.map((r) => r.messageId)],
    );
  }

  /** Re-derives these people's owners from their events (one index probe per person). */
  async replay(em: EntityManager, ws: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await em.query(`DELETE FROM profile_owners WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`, [ws, ids]);
    await em.query(
      `INSERT INTO profile_owners (workspace_id, profile_id, staff_id, since, message_id)
       SELECT $1, p, x.staff, x.ts, x.message_id FROM unnest($2::uuid[]) p
       CROSS JOIN LATERAL (SELECT btrim(e.context->>'staff') AS staff, e.ts, e.message_id FROM events e
                           WHERE e.workspace_id = $1 AND e.profile_id = p AND e.channel = 'wecom'
                             AND jsonb_typeof(e.context->'staff') = 'string' AND btrim(e.context->>'staff') <> '' AND length(e.context->>'staff') <= 128
                           ORDER BY e.ts DESC, e.message_id COLLATE "C" DESC LIMIT 1) x`,
      [ws, ids],
    );
  }

  async ownersOf(em: EntityManager, ws: string, ids: readonly string[]): Promise<Map<string, OwnerRow>> {
    const rows: OwnerRow[] = await em.query(
      `SELECT profile_id AS "profileId", staff_id AS "staffId", since, message_id AS "messageId" FROM profile_owners WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])`,
      [ws, ids],
    );
    return new Map(rows.map((r) => [r.profileId, r]));
  }
}

/** Whether owner `a` is later than `b`: time, then message id in code-unit order (the replay's `COLLATE "C"`). */
export function later(a: Pick<OwnerRow, 'since' | 'messageId'>, b: Pick<OwnerRow, 'since' | 'messageId'>): boolean {
  const ta = new Date(a.since).getTime();
  const tb = new Date(b.since).getTime();
  return ta !== tb ? ta > tb : a.messageId > b.messageId;
}
