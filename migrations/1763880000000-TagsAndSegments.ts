import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tags (manual, rule, system), segments, their memberships, the change log and the sweep state. */
export class TagsAndSegments1763880000000 implements MigrationInterface {
  name = 'TagsAndSegments1763880000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tags (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        key             text NOT NULL,
        name            text NOT NULL,
        group_name      text NOT NULL DEFAULT 'default',
        kind            text NOT NULL CHECK (kind IN ('manual', 'rule', 'system')),
        expression      text,
        description     text,
        time_dependent  boolean NOT NULL DEFAULT false,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, key),
        CHECK ((kind = 'rule') = (expression IS NOT NULL))
      )`);
    await q.query(`
      CREATE TABLE profile_tags (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_id    uuid NOT NULL,
        tag_key       text NOT NULL,
        source        text NOT NULL,
        added_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, profile_id, tag_key)
      )`);
    await q.query(`CREATE INDEX profile_tags_tag_idx ON profile_tags (workspace_id, tag_key)`);
    await q.query(`
      CREATE TABLE segments (
        workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id              uuid NOT NULL DEFAULT gen_random_uuid(),
        key             text NOT NULL,
        name            text NOT NULL,
        description     text,
        expression      text NOT NULL,
        is_default      boolean NOT NULL DEFAULT false,
        time_dependent  boolean NOT NULL DEFAULT false,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id),
        UNIQUE (workspace_id, key)
      )`);
    await q.query(`
      CREATE TABLE segment_members (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        segment_id    uuid NOT NULL,
        profile_id    uuid NOT NULL,
        entered_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, segment_id, profile_id)
      )`);
    await q.query(`CREATE INDEX segment_members_profile_idx ON segment_members (workspace_id, profile_id)`);
    await q.query(`
      CREATE TABLE membership_changes (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id            bigserial,
        subject_kind  text NOT NULL CHECK (subject_kind IN ('tag', 'segment')),
        subject       text NOT NULL,
        profile_id    uuid NOT NULL,
        change        text NOT NULL CHECK (change IN ('entered', 'left')),
        cause         text NOT NULL,
        at            timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`CREATE INDEX membership_changes_subject_idx ON membership_changes (workspace_id, subject_kind, subject, id)`);
    await q.query(`CREATE INDEX membership_changes_profile_idx ON membership_changes (workspace_id, profile_id, id)`);
    await q.query(`
      CREATE TABLE sweep_state (
        workspace_id       uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        cursor_seq         bigint NOT NULL DEFAULT 0,
        pass_started_at    timestamptz,
        last_pass_at       timestamptz,
        profiles_done      integer NOT NULL DEFAULT 0,
        profiles_total     integer NOT NULL DEFAULT 0,
        changes            bigint NOT NULL DEFAULT 0,
        updated_at         timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['sweep_state', 'membership_changes', 'segment_members', 'segments', 'profile_tags', 'tags']) await q.query(`DROP TABLE ${t}`);
  }
}
