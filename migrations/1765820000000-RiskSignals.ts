import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Rollups that carry the per-event risk signals, and the integer type of their columns there. */
const SIGNAL_TABLES = [
  ['kpi_activity', 'integer'],
  ['kpi_quarter_totals', 'integer'],
  ['kpi_day_totals', 'integer'],
  ['kpi_variant_person_days', 'integer'],
  ['kpi_variant_day_totals', 'bigint'],
] as const;
const SIGNAL_COLUMNS = ['complaints', 'sentiment_scored', 'sentiment_negative'];

/**
 * Risk signals (issue #18, src/modules/kpis/kpi.signals.ts): complaints (`Complaint Filed`) and
 * sentiment scores (scored, negative) carried beside the NPS answers in every rollup that holds
 * them, and `ingest_counts`, events received and rejected per quarter hour of receipt.
 *
 * No backfill: the new columns default to 0 (a constant default, no table rewrite), so COMPLAINT_RATE
 * and NEGATIVE_SENTIMENT_SHARE count events ingested from this migration on until
 * `siyu recompute --parts kpis` rebuilds the rollups from the stored events. INGEST_ERROR_RATE
 * starts here for good: rejected events were never stored, so nothing can rebuild its past.
 */
export class RiskSignals1765820000000 implements MigrationInterface {
  name = 'RiskSignals1765820000000';

  async up(q: QueryRunner): Promise<void> {
    for (const [table, type] of SIGNAL_TABLES) {
      await q.query(`ALTER TABLE ${table} ${SIGNAL_COLUMNS.map((c) => `ADD COLUMN ${c} ${type} NOT NULL DEFAULT 0`).join(', ')}`);
    }
    await q.query(`
      CREATE TABLE ingest_counts (
        workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        dim           text NOT NULL,
        quarter       timestamptz NOT NULL,
        received      integer NOT NULL DEFAULT 0,
        rejected      integer NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, dim, quarter)
      )`);
    await q.query(
      `COMMENT ON TABLE ingest_counts IS 'events received (accepted + rejected, duplicates neither) and rejected at ingest, per UTC quarter hour of receipt and dimension ('''' everyone, c:<channel> when the channel was known); not rebuilt by recompute'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ingest_counts`);
    for (const [table] of SIGNAL_TABLES) await q.query(`ALTER TABLE ${table} ${SIGNAL_COLUMNS.map((c) => `DROP COLUMN ${c}`).join(', ')}`);
  }
}
