import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Destination signing secrets are stored sealed (AES-256-GCM under the PII data key, like phones and
 * e-mails): `secret_sealed` says which rows are. Rows from before hold the secret in plain text
 * until the app's first start seals them (`DestinationService.sealLegacySecrets`): a migration has
 * no key.
 */
export class DestinationSecrets1765815000000 implements MigrationInterface {
  name = 'DestinationSecrets1765815000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE destinations ADD COLUMN secret_sealed boolean NOT NULL DEFAULT false`);
    await q.query(`COMMENT ON COLUMN destinations.secret IS 'signing secret (webhook HMAC, DingTalk/Feishu sign), sealed with the PII data key when secret_sealed; never returned over the API'`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Sealed secrets cannot be opened here: drop them (their destinations need a new secret).
    await q.query(`UPDATE destinations SET secret = NULL, enabled = false WHERE secret_sealed`);
    await q.query(`ALTER TABLE destinations DROP COLUMN secret_sealed`);
  }
}
