import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The organisation (总部统筹-区域协同-终端执行): a tree of org nodes per workspace (headquarters →
 * regions → stores / community groups, any depth), the registry of touchpoints and WeCom staff
 * with the node each belongs to, and each person's current staff owner (the latest `context.staff`
 * of their WeCom events), carried at ingest. Every table is keyed by workspace_id first.
 */
export class OrgTree1765830000000 implements MigrationInterface {
  name = 'OrgTree1765830000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE org_nodes (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        key           text NOT NULL,
        name          text NOT NULL,
        parent_key    text,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, key),
        FOREIGN KEY (workspace_id, parent_key) REFERENCES org_nodes (workspace_id, key),
        CHECK (parent_key IS DISTINCT FROM key)
      )`);
    await q.query(`COMMENT ON TABLE org_nodes IS 'the org tree: parent_key null = a top-level node (headquarters); cycles are refused by the service'`);
    await q.query(`CREATE INDEX org_nodes_parent_idx ON org_nodes (workspace_id, parent_key)`);
    await q.query(`
      CREATE TABLE org_touchpoints (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        touchpoint    text NOT NULL,
        node_key      text,
        first_seen    timestamptz NOT NULL DEFAULT now(),
        assigned_at   timestamptz,
        PRIMARY KEY (workspace_id, touchpoint),
        FOREIGN KEY (workspace_id, node_key) REFERENCES org_nodes (workspace_id, key)
      )`);
    await q.query(`COMMENT ON TABLE org_touchpoints IS 'every touchpoint a workspace has seen (the empty string: events without one) and its org node; null = unassigned'`);
    await q.query(`CREATE INDEX org_touchpoints_node_idx ON org_touchpoints (workspace_id, node_key)`);
    await q.query(`
      CREATE TABLE org_staff (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        staff_id      text NOT NULL,
        name          text,
        node_key      text,
        first_seen    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, staff_id),
        FOREIGN KEY (workspace_id, node_key) REFERENCES org_nodes (workspace_id, key)
      )`);
    await q.query(`COMMENT ON TABLE org_staff IS 'WeCom staff (context.staff) seen or declared, and their org node; null = unassigned'`);
    await q.query(`CREATE INDEX org_staff_node_idx ON org_staff (workspace_id, node_key)`);
    await q.query(`
      CREATE TABLE profile_owners (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id    uuid NOT NULL,
        staff_id      text NOT NULL,
        since         timestamptz NOT NULL,
        message_id    text NOT NULL,
        PRIMARY KEY (workspace_id, profile_id)
      )`);
    await q.query(`COMMENT ON TABLE profile_owners IS 'each person''s current staff owner (SERVED_BY): the staff of their latest WeCom event carrying context.staff (time, then message id)'`);
    await q.query(`CREATE INDEX profile_owners_staff_idx ON profile_owners (workspace_id, staff_id)`);
    // What existed before: every touchpoint with activity, every staff member related, every person's latest owner.
    await q.query(`INSERT INTO org_touchpoints (workspace_id, touchpoint) SELECT DISTINCT workspace_id, substr(dim, 3) FROM kpi_quarter_totals WHERE left(dim, 2) = 't:' ON CONFLICT DO NOTHING`);
    await q.query(`INSERT INTO org_staff (workspace_id, staff_id) SELECT DISTINCT workspace_id, staff_id FROM relations WHERE kind = 'served_by' AND staff_id IS NOT NULL ON CONFLICT DO NOTHING`);
    await q.query(`
      INSERT INTO profile_owners (workspace_id, profile_id, staff_id, since, message_id)
      SELECT DISTINCT ON (workspace_id, profile_id) workspace_id, profile_id, btrim(context->>'staff'), ts, message_id
      FROM events
      WHERE channel = 'wecom' AND jsonb_typeof(context->'staff') = 'string' AND btrim(context->>'staff') <> ''
      ORDER BY workspace_id, profile_id, ts DESC, message_id COLLATE "C" DESC`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE profile_owners`);
    await q.query(`DROP TABLE org_staff`);
    await q.query(`DROP TABLE org_touchpoints`);
    await q.query(`DROP TABLE org_nodes`);
  }
}
