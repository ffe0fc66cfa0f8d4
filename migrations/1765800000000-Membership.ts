import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Membership (积分-等级): the points ledger (one row per `Points Earned` / `Points Redeemed` event,
 * keyed by its message id), each person's carried balance and current level, the history of level
 * changes, and the workspace's level rules with every version kept. Every table is keyed by
 * workspace_id first.
 */
export class Membership1765800000000 implements MigrationInterface {
  name = 'Membership1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE membership_rules (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        version       int NOT NULL CHECK (version > 0),
        levels        jsonb NOT NULL,
        changed_by    uuid,
        changed_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, version)
      )`);
    await q.query(`COMMENT ON TABLE membership_rules IS 'every version of a workspace''s level rules; the highest version applies; none = the default ladder'`);
    await q.query(`
      CREATE TABLE points_ledger (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        message_id    text NOT NULL,
        profile_id    uuid NOT NULL,
        delta         numeric(20, 2) NOT NULL,
        reason        text,
        ts            timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, message_id)
      )`);
    await q.query(`COMMENT ON COLUMN points_ledger.delta IS '+points of Points Earned, -points of Points Redeemed'`);
    await q.query(`CREATE INDEX points_ledger_profile_idx ON points_ledger (workspace_id, profile_id, ts, message_id)`);
    await q.query(`
      CREATE TABLE profile_membership (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id    uuid NOT NULL,
        points        numeric(20, 2) NOT NULL,
        level         text,
        level_since   timestamptz,
        last_entry_at timestamptz NOT NULL,
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, profile_id)
      )`);
    await q.query(`COMMENT ON COLUMN profile_membership.points IS 'the sum of the person''s ledger; may be negative (a redemption beyond the balance is recorded as sent)'`);
    await q.query(`COMMENT ON COLUMN profile_membership.last_entry_at IS 'time of the latest ledger entry applied: an entry dated before it replays the person'`);
    await q.query(`CREATE INDEX profile_membership_level_idx ON profile_membership (workspace_id, level)`);
    await q.query(`
      CREATE TABLE level_changes (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id            bigserial,
        profile_id    uuid NOT NULL,
        from_level    text,
        to_level      text,
        at            timestamptz NOT NULL,
        cause         text NOT NULL,
        points        numeric(20, 2) NOT NULL,
        recorded_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`CREATE INDEX level_changes_profile_idx ON level_changes (workspace_id, profile_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['level_changes', 'profile_membership', 'points_ledger', 'membership_rules']) await q.query(`DROP TABLE ${t}`);
  }
}
