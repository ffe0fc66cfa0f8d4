import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Alert rule settings: `auto_resolve` (close the rule's alerts when its condition stops holding) and
 * `evaluate` (which period is measured: the last completed one, or the current one so far).
 * Rules that exist already were created when rules always measured the current period: they keep
 * doing so (`current_period`); new rules get `completed_period` unless they ask otherwise (the
 * service always writes the column; the default only fills existing rows).
 * The workspace language (`workspaces.settings.locale`) lives in the settings JSON: no DDL.
 */
export class AlertRuleSettings1764100000000 implements MigrationInterface {
  name = 'AlertRuleSettings1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE kpi_alert_rules ADD COLUMN auto_resolve boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE kpi_alert_rules ADD COLUMN evaluate text NOT NULL DEFAULT 'current_period' CHECK (evaluate IN ('completed_period', 'current_period'))`);
    await q.query(`ALTER TABLE kpi_alert_rules ALTER COLUMN evaluate SET DEFAULT 'completed_period'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE kpi_alert_rules DROP COLUMN evaluate`);
    await q.query(`ALTER TABLE kpi_alert_rules DROP COLUMN auto_resolve`);
  }
}
