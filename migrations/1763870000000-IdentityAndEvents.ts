import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Profiles, the identity graph (identifiers, merges, conflicts, unmerge exclusions, rules), events
 * and person-to-person relations. Every table is keyed by workspace_id first (the distribution key).
 */
export class IdentityAndEvents1763870000000 implements MigrationInterface {
  name = 'IdentityAndEvents1763870000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE profile_seq`);
    await q.query(`
      CREATE TABLE profiles (
        workspace_id   uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id             uuid NOT NULL,
        seq            bigint NOT NULL DEFAULT nextval('profile_seq'),
        merged_into    uuid,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        first_seen_at  timestamptz,
        last_seen_at   timestamptz,
        channels       text[] NOT NULL DEFAULT '{}',
        traits         jsonb NOT NULL DEFAULT '{}'::jsonb,
        event_count    integer NOT NULL DEFAULT 0,
        order_count    integer NOT NULL DEFAULT 0,
        total_spend    numeric(16,2) NOT NULL DEFAULT 0,
        last_order_at  timestamptz,
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`CREATE INDEX profiles_live_seq_idx ON profiles (workspace_id, seq) WHERE merged_into IS NULL`);
    await q.query(`CREATE INDEX profiles_merged_into_idx ON profiles (workspace_id, merged_into) WHERE merged_into IS NOT NULL`);
    await q.query(`CREATE INDEX profiles_last_seen_idx ON profiles (workspace_id, last_seen_at) WHERE merged_into IS NULL`);

    await q.query(`
      CREATE TABLE identifiers (
        workspace_id   uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        type           text NOT NULL,
        namespace      text NOT NULL DEFAULT '',
        value_key      text NOT NULL,
        value_enc      text,
        profile_id     uuid NOT NULL,
        first_seen_at  timestamptz NOT NULL,
        last_seen_at   timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, type, namespace, value_key)
      )`);
    await q.query(`COMMENT ON COLUMN identifiers.value_key IS 'normalised value; for phone and email a keyed hash (HMAC-SHA-256)'`);
    await q.query(`COMMENT ON COLUMN identifiers.value_enc IS 'phone and email only: AES-256-GCM ciphertext of the normalised value'`);
    await q.query(`CREATE INDEX identifiers_profile_idx ON identifiers (workspace_id, profile_id)`);

    await q.query(`
      CREATE TABLE events (
        workspace_id       uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        message_id         text NOT NULL,
        type               text NOT NULL,
        name               text,
        channel            text NOT NULL,
        ts                 timestamptz NOT NULL,
        received_at        timestamptz NOT NULL DEFAULT now(),
        profile_id         uuid NOT NULL,
        origin_profile_id  uuid NOT NULL,
        identifier_keys    jsonb NOT NULL,
        traits             jsonb,
        properties         jsonb,
        context            jsonb,
        PRIMARY KEY (workspace_id, message_id)
      )`);
    await q.query(`COMMENT ON COLUMN events.origin_profile_id IS 'the profile the event was first written to; unmerge restores it'`);
    await q.query(`COMMENT ON COLUMN events.identifier_keys IS '[[type, namespace, value_key], ...] in priority order; no plaintext phone or email'`);
    await q.query(`CREATE INDEX events_profile_ts_idx ON events (workspace_id, profile_id, ts DESC, message_id)`);

    await q.query(`
      CREATE TABLE identity_merges (
        workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id                uuid NOT NULL DEFAULT gen_random_uuid(),
        survivor_id       uuid NOT NULL,
        merged_id         uuid NOT NULL,
        event_message_id  text NOT NULL,
        linking           jsonb NOT NULL,
        moved             jsonb NOT NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        undone_at         timestamptz,
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`CREATE INDEX identity_merges_survivor_idx ON identity_merges (workspace_id, survivor_id)`);
    await q.query(`CREATE INDEX identity_merges_merged_idx ON identity_merges (workspace_id, merged_id)`);

    await q.query(`
      CREATE TABLE identity_conflicts (
        workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id                uuid NOT NULL DEFAULT gen_random_uuid(),
        profile_id        uuid NOT NULL,
        other_profile_id  uuid,
        identifier        jsonb,
        rule              text NOT NULL,
        limit_type        text,
        event_message_id  text NOT NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await q.query(`CREATE INDEX identity_conflicts_profile_idx ON identity_conflicts (workspace_id, profile_id)`);
    await q.query(`CREATE INDEX identity_conflicts_other_idx ON identity_conflicts (workspace_id, other_profile_id)`);

    await q.query(`
      CREATE TABLE identity_exclusions (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        profile_a     uuid NOT NULL,
        profile_b     uuid NOT NULL,
        merge_id      uuid NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, profile_a, profile_b),
        CHECK (profile_a < profile_b)
      )`);
    await q.query(`CREATE INDEX identity_exclusions_b_idx ON identity_exclusions (workspace_id, profile_b)`);

    await q.query(`
      CREATE TABLE identity_rules (
        workspace_id  uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        rules         jsonb NOT NULL,
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE relations (
        workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id                uuid NOT NULL DEFAULT gen_random_uuid(),
        kind              text NOT NULL,
        from_profile_id   uuid,
        to_profile_id     uuid NOT NULL,
        staff_id          text,
        event_message_id  text NOT NULL,
        occurred_at       timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, id),
        CHECK (from_profile_id IS NOT NULL OR staff_id IS NOT NULL)
      )`);
    await q.query(`CREATE UNIQUE INDEX relations_event_kind_uq ON relations (workspace_id, event_message_id, kind)`);
    await q.query(`CREATE INDEX relations_to_idx ON relations (workspace_id, to_profile_id, kind)`);
    await q.query(`CREATE INDEX relations_from_idx ON relations (workspace_id, from_profile_id, kind)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['relations', 'identity_rules', 'identity_exclusions', 'identity_conflicts', 'identity_merges', 'events', 'identifiers', 'profiles']) {
      await q.query(`DROP TABLE ${t}`);
    }
    await q.query(`DROP SEQUENCE profile_seq`);
  }
}
