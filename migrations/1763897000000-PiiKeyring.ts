import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The PII keyring: data keys wrapped by the master key (see src/modules/identities/pii-keyring.ts). */
export class PiiKeyring1763897000000 implements MigrationInterface {
  name = 'PiiKeyring1763897000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE pii_keyring (
        id          text PRIMARY KEY,
        keyring     jsonb NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`COMMENT ON TABLE pii_keyring IS 'wrapped data keys only; unreadable without SIYU_PII_KEY'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE pii_keyring`);
  }
}
