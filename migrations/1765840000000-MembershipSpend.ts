import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Membership levels by spend over a trailing window: a rules version says which value its ladder
 * reads (`basis`: the points balance, or the spend of the last `window_days` days); each person
 * carries their in-window spend and the instant it was derived at; each level change says which
 * value it was read from. Existing rules and changes are POINTS (the column defaults).
 */
export class MembershipSpend1765840000000 implements MigrationInterface {
  name = 'MembershipSpend1765840000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE membership_rules ADD COLUMN basis text NOT NULL DEFAULT 'POINTS' CHECK (basis IN ('POINTS', 'SPEND'))`);
    await q.query(`ALTER TABLE membership_rules ADD COLUMN window_days int CHECK (window_days BETWEEN 1 AND 730)`);
    await q.query(`ALTER TABLE membership_rules ADD CONSTRAINT membership_rules_window_check CHECK ((basis = 'SPEND') = (window_days IS NOT NULL))`);
    await q.query(`COMMENT ON COLUMN membership_rules.basis IS 'POINTS: the ladder reads the points balance; SPEND: the order value of the last window_days days'`);
    await q.query(`ALTER TABLE profile_membership ADD COLUMN spend numeric(20, 2)`);
    await q.query(`ALTER TABLE profile_membership ADD COLUMN spend_as_of timestamptz`);
    // A person with orders but no points event has a row under a SPEND ladder.
    await q.query(`ALTER TABLE profile_membership ALTER COLUMN last_entry_at DROP NOT NULL`);
    await q.query(`COMMENT ON COLUMN profile_membership.spend IS 'SPEND ladder: order value in (spend_as_of - window, spend_as_of]; null under a POINTS ladder'`);
    await q.query(`COMMENT ON COLUMN profile_membership.spend_as_of IS 'SPEND ladder: the instant level, level_since and spend were derived at; history before it is final'`);
    await q.query(`ALTER TABLE level_changes ADD COLUMN basis text NOT NULL DEFAULT 'POINTS' CHECK (basis IN ('POINTS', 'SPEND'))`);
    await q.query(`COMMENT ON COLUMN level_changes.points IS 'the value the ladder read right after the change: points balance (POINTS) or in-window spend in yuan (SPEND)'`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Spend-derived state has no place in the older shape; `siyu recompute --only membership` re-derives it.
    await q.query(`DELETE FROM level_changes WHERE basis = 'SPEND'`);
    await q.query(`ALTER TABLE level_changes DROP COLUMN basis`);
    await q.query(`DELETE FROM profile_membership WHERE last_entry_at IS NULL`);
    await q.query(`ALTER TABLE profile_membership ALTER COLUMN last_entry_at SET NOT NULL`);
    await q.query(`ALTER TABLE profile_membership DROP COLUMN spend_as_of`);
    await q.query(`ALTER TABLE profile_membership DROP COLUMN spend`);
    await q.query(`ALTER TABLE membership_rules DROP CONSTRAINT membership_rules_window_check`);
    await q.query(`ALTER TABLE membership_rules DROP COLUMN window_days`);
    await q.query(`ALTER TABLE membership_rules DROP COLUMN basis`);
  }
}
